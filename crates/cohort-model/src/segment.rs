//! Segment labels. Each enum is a partition: every person is in exactly one
//! value tier, one lifecycle stage and one behaviour type.

use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! label_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident => $text:literal, $zh:literal;)+ }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vdoc])* $variant,)+
        }

        impl $name {
            /// Every value, in display order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// Stored (snake_case) name.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text,)+ }
            }

            /// Chinese label for reports and the console.
            pub fn label_zh(self) -> &'static str {
                match self { $($name::$variant => $zh,)+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s.trim().to_ascii_lowercase().replace(['-', ' '], "_").as_str() {
                    $($text => Ok($name::$variant),)+
                    other => Err(format!(
                        "unknown {} {other:?} (expected one of: {})",
                        stringify!($name),
                        [$($text),+].join(", ")
                    )),
                }
            }
        }
    };
}

label_enum!(
    /// The business plan's value tiers (see `docs/segments.md` for the exact
    /// reading of the plan's thresholds).
    ValueTier {
        /// Ordered within 30 days, ≥ 3 orders and ≥ ¥500 in the value window.
        HighValue => "high_value", "高价值";
        /// Ordered within 30 days, 1–2 orders, ¥200–500 in the value window.
        Potential => "potential", "潜力";
        /// Last order ≥ 90 days ago, exactly 1 order, < ¥200.
        LowValue => "low_value", "低价值";
        /// Bought, but fits none of the plan's three tiers.
        General => "general", "一般";
        /// Never bought.
        Prospect => "prospect", "未购买";
    }
);

label_enum!(
    /// Lifecycle stage by registration age and days without activity.
    LifecycleStage {
        /// Registered within the last 7 days.
        New => "new", "新用户";
        /// Active within the last 30 days.
        Active => "active", "活跃";
        /// 30–45 days without activity.
        SilentLight => "silent_light", "轻度沉默";
        /// 46–60 days without activity.
        SilentMedium => "silent_medium", "中度沉默";
        /// 61–90 days without activity.
        SilentHeavy => "silent_heavy", "重度沉默";
        /// More than 90 days without activity.
        Churned => "churned", "流失";
    }
);

label_enum!(
    /// Dominant shopping behaviour, from profile features.
    BehaviourType {
        /// Shares products often.
        SocialSharer => "social_sharer", "社交分享型";
        /// Compares several products of one category before deciding.
        PriceComparer => "price_comparer", "比价型";
        /// Finds products mostly through search.
        Searcher => "searcher", "搜索型";
        /// Browses a lot and rarely buys.
        Browser => "browser", "浏览型";
        /// None of the above stands out.
        Casual => "casual", "普通型";
    }
);

label_enum!(
    /// Classic RFM segments from the recency and frequency scores.
    RfmSegment {
        /// R 5, F 4–5.
        Champions => "champions", "重要价值";
        /// R 3–4, F 4–5.
        LoyalCustomers => "loyal_customers", "忠诚客户";
        /// R 4–5, F 2–3.
        PotentialLoyalists => "potential_loyalists", "潜力忠诚";
        /// R 5, F 1.
        NewCustomers => "new_customers", "新客户";
        /// R 4, F 1.
        Promising => "promising", "有希望";
        /// R 3, F 3.
        NeedAttention => "need_attention", "需要关注";
        /// R 3, F 1–2.
        AboutToSleep => "about_to_sleep", "即将沉睡";
        /// R 1–2, F 3–4.
        AtRisk => "at_risk", "有流失风险";
        /// R 1–2, F 5.
        CantLose => "cant_lose", "不能失去";
        /// R 1–2, F 1–2.
        Hibernating => "hibernating", "休眠";
    }
);

/// Quantile RFM scores, 1 (worst) to 5 (best) each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RfmScore {
    /// Recency score: 5 = most recent.
    pub recency: u8,
    /// Frequency score: 5 = most orders.
    pub frequency: u8,
    /// Monetary score: 5 = most spend.
    pub monetary: u8,
}

impl RfmScore {
    /// The classic segment from the R and F scores (the widely used 5×5 map).
    pub fn segment(self) -> RfmSegment {
        match (self.recency, self.frequency) {
            (5, 4 | 5) => RfmSegment::Champions,
            (3 | 4, 4 | 5) => RfmSegment::LoyalCustomers,
            (4 | 5, 2 | 3) => RfmSegment::PotentialLoyalists,
            (5, _) => RfmSegment::NewCustomers,
            (4, _) => RfmSegment::Promising,
            (3, 3) => RfmSegment::NeedAttention,
            (3, _) => RfmSegment::AboutToSleep,
            (_, 5) => RfmSegment::CantLose,
            (_, 3 | 4) => RfmSegment::AtRisk,
            _ => RfmSegment::Hibernating,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfm_map_covers_every_cell() {
        let seg = |r, f| RfmScore { recency: r, frequency: f, monetary: 3 }.segment();
        assert_eq!(seg(5, 5), RfmSegment::Champions);
        assert_eq!(seg(4, 5), RfmSegment::LoyalCustomers);
        assert_eq!(seg(5, 2), RfmSegment::PotentialLoyalists);
        assert_eq!(seg(5, 1), RfmSegment::NewCustomers);
        assert_eq!(seg(4, 1), RfmSegment::Promising);
        assert_eq!(seg(3, 3), RfmSegment::NeedAttention);
        assert_eq!(seg(3, 2), RfmSegment::AboutToSleep);
        assert_eq!(seg(2, 4), RfmSegment::AtRisk);
        assert_eq!(seg(1, 5), RfmSegment::CantLose);
        assert_eq!(seg(2, 2), RfmSegment::Hibernating);
        assert_eq!("silent-medium".parse::<LifecycleStage>(), Ok(LifecycleStage::SilentMedium));
        assert!("dormant".parse::<LifecycleStage>().unwrap_err().contains("silent_heavy"));
    }
}
