//! Measurement vocabulary shared by every layer that classifies or records:
//! phases and the failure taxonomy (DESIGN.md). Knows nothing of the engine,
//! the endpoint or the UI.

mod taxonomy;

pub use taxonomy::VerifyCause;
