use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ModelError;

/// Where an interaction happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Platform {
    /// The shop's native mobile app.
    App,
    /// A WeChat / Alipay / Douyin mini-program.
    MiniProgram,
    /// The web shop (desktop or mobile browser).
    Web,
    /// A physical store (member card, POS).
    Store,
}

impl Platform {
    /// Every platform, in display order.
    pub const ALL: [Platform; 4] = [Platform::App, Platform::MiniProgram, Platform::Web, Platform::Store];

    /// The stored name (`app`, `mini_program`, `web`, `store`).
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::App => "app",
            Platform::MiniProgram => "mini_program",
            Platform::Web => "web",
            Platform::Store => "store",
        }
    }

    /// Position in [`Platform::ALL`], for per-platform arrays.
    pub fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Platform {
    type Err = ModelError;

    /// Accepts the stored names plus common SDK spellings (`ios`, `android`,
    /// `miniprogram`, `wechat_mini_program`, `h5`, `pos`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().replace(['-', ' '], "_").as_str() {
            "app" | "ios" | "android" => Ok(Platform::App),
            "mini_program" | "miniprogram" | "wechat_mini_program" | "mp" => Ok(Platform::MiniProgram),
            "web" | "h5" | "pc" | "mobile_web" => Ok(Platform::Web),
            "store" | "pos" | "offline" => Ok(Platform::Store),
            _ => Err(ModelError::UnknownPlatform(s.to_string())),
        }
    }
}
