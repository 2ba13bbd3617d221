//! The one shape of a settings area: `Area::parse(&Input, &mut Problems)`
//! returns the area's typed settings, every problem added to `p` (a bad value
//! is reported and the default used, so that validation goes on). Each area
//! file defines its settings with `define_settings!` and implements [`Area`]
//! beside them; `config.rs` parses every area the same way and joins the
//! results into each command's configuration.
//!
//! A new area: a `define_settings!` block (listed in `settings::AREAS`), a
//! typed struct, its `impl Area`, and a field of `config::Parsed` that the
//! commands needing it take.

use crate::env::Env;
use crate::network::Network;
use crate::setting::Problems;

/// Which parts a command needs: an area makes its settings required when
/// its part is needed and validates what is given all the same (a typo
/// should not wait for the command that reads it).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Needs {
    /// The source database and its query (`export`, `run`, `check`, `schedule`).
    pub(crate) source: bool,
    /// The Polyteia key and dataset (`upload`, `run`, `check`, `schedule`).
    pub(crate) upload: bool,
    /// The cron schedule (`schedule`).
    pub(crate) schedule: bool,
}

/// What every area's parsing is given.
pub(crate) struct Input<'a> {
    pub(crate) env: &'a Env,
    pub(crate) needs: Needs,
    /// The proxy and CA settings, read once (the trust store's files too), for
    /// the areas whose settings reach a service (the API, the Pushgateway).
    pub(crate) network: Network,
}

impl<'a> Input<'a> {
    pub(crate) fn new(env: &'a Env, needs: Needs) -> Input<'a> {
        Input { env, needs, network: Network::parse(env) }
    }
}

/// A settings area: its typed settings, parsed from the [`Input`].
pub(crate) trait Area: Sized {
    fn parse(input: &Input, p: &mut Problems) -> Self;
}
