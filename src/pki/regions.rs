//! AWS IoT Core regions and the endpoint names the mock certificates cover.
//!
//! Only the regions that existed when AWS introduced Amazon Trust Services
//! endpoints still serve the legacy VeriSign chain; every region added later
//! is ATS-only (AWS IoT Core's "Server authentication" and endpoint
//! documentation).

/// Regions that serve both the legacy (VeriSign G5) and the ATS endpoint.
pub const VERISIGN_REGIONS: &[&str] = &[
    "us-east-2",
    "us-east-1",
    "us-west-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-northeast-1",
    "ap-northeast-2",
    "eu-central-1",
    "eu-west-1",
    "eu-west-2",
    "cn-north-1",
];

/// Regions that only serve the ATS endpoint. `ap-south-1` and `us-gov-west-1`
/// are named by AWS; the rest are regions added later, which are ATS-only.
pub const ATS_ONLY_REGIONS: &[&str] = &[
    "ap-south-1",
    "us-gov-west-1",
    "us-west-1",
    "ca-central-1",
    "eu-west-3",
    "eu-north-1",
    "sa-east-1",
    "ap-east-1",
    "me-south-1",
    "cn-northwest-1",
    "us-gov-east-1",
];

/// True when `region` is one this tool knows about.
pub fn is_known(region: &str) -> bool {
    has_legacy_endpoint(region) || ATS_ONLY_REGIONS.contains(&region)
}

/// True when the region still serves the VeriSign-chained `iot:Data` endpoint.
pub fn has_legacy_endpoint(region: &str) -> bool {
    VERISIGN_REGIONS.contains(&region)
}

/// Every known region, legacy-capable first.
pub fn all() -> impl Iterator<Item = &'static str> {
    VERISIGN_REGIONS
        .iter()
        .chain(ATS_ONLY_REGIONS.iter())
        .copied()
}

/// The DNS suffix of a region: the China regions live under `amazonaws.com.cn`.
pub fn dns_suffix(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    }
}

/// The wildcard name the server certificate of a region covers:
/// `*.iot.<region>.<suffix>`.
pub fn wildcard_name(region: &str) -> String {
    format!("*.iot.{region}.{}", dns_suffix(region))
}

/// The data endpoint host for an account prefix: the legacy `iot:Data` name or
/// the `-ats` name of `iot:Data-ATS`.
pub fn endpoint_host(prefix: &str, region: &str, ats: bool) -> String {
    let ats = if ats { "-ats" } else { "" };
    format!("{prefix}{ats}.iot.{region}.{}", dns_suffix(region))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_aws_naming() {
        assert_eq!(
            endpoint_host("a1b2c3", "eu-west-1", true),
            "a1b2c3-ats.iot.eu-west-1.amazonaws.com"
        );
        assert_eq!(
            endpoint_host("a1b2c3", "cn-north-1", false),
            "a1b2c3.iot.cn-north-1.amazonaws.com.cn"
        );
        assert_eq!(wildcard_name("us-east-1"), "*.iot.us-east-1.amazonaws.com");
    }

    #[test]
    fn legacy_regions_are_exactly_the_eleven() {
        assert_eq!(VERISIGN_REGIONS.len(), 11);
        assert!(has_legacy_endpoint("us-east-1"));
        assert!(!has_legacy_endpoint("ap-south-1"));
        assert!(!has_legacy_endpoint("us-gov-west-1"));
        assert!(is_known("ap-south-1"));
        assert!(!is_known("mars-north-1"));
        for r in ATS_ONLY_REGIONS {
            assert!(!VERISIGN_REGIONS.contains(r), "{r} listed twice");
        }
    }
}
