//! Demo catalog (being written).
use std::fmt;
/// Flags of `vitrine-origin seed`.
#[derive(Clone, Debug, clap::Args)]
pub struct SeedArgs {
    /// How many products to generate.
    #[arg(long, default_value_t = 50_000)]
    pub products: u32,
    /// Random seed; the same seed gives the same catalog.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
}
/// What a seed run did.
pub struct SeedReport;
impl fmt::Display for SeedReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("nothing yet")
    }
}
/// Seeds the catalog.
pub async fn run(_state: &crate::state::AppState, _args: &SeedArgs) -> anyhow::Result<SeedReport> {
    anyhow::bail!("seeding is being written")
}
