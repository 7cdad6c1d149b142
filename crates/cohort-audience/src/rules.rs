//! Tag rules: a name, a description and a condition, from the `[tags]`
//! table of `cohort.toml` or stored through the API.

use serde::{Deserialize, Serialize};

use crate::lang::{self, Expr};
use crate::AudienceError;

/// A rule as written in TOML (`[[tags.rules]]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    /// The tag's name: lowercase letters, digits and `_`.
    pub name: String,
    /// What the tag means, for marketers.
    #[serde(default)]
    pub description: String,
    /// The condition, in the rule language (`docs/audiences.md`).
    pub when: String,
}

/// A parsed tag rule.
#[derive(Debug, Clone, PartialEq)]
pub struct TagRule {
    /// Tag name.
    pub name: String,
    /// What it means.
    pub description: String,
    /// The condition's text.
    pub condition: String,
    /// The parsed condition.
    pub expr: Expr,
    /// Where it was declared (`cohort.toml`, `api`).
    pub origin: String,
}

/// Checks a tag or audience name.
pub fn check_name(what: &'static str, name: &str) -> Result<(), AudienceError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(AudienceError::InvalidName {
            what,
            name: name.to_string(),
            reason: "use 1 to 64 lowercase letters, digits, '_' or '-'",
        })
    }
}

impl TagRule {
    /// Parses a rule; errors name the rule, the line and the column.
    pub fn parse(spec: &RuleSpec, origin: &str) -> Result<TagRule, AudienceError> {
        check_name("tag", &spec.name)?;
        let expr = lang::parse(&spec.when).map_err(|e| AudienceError::Rule {
            rule: spec.name.clone(),
            origin: origin.to_string(),
            line: e.pos.line,
            col: e.pos.col,
            message: e.message,
        })?;
        let (mut tags, mut models) = (Vec::new(), Vec::new());
        expr.tags_used(&mut tags);
        expr.models_used(&mut models);
        // Tags follow events incrementally; tags and model scores change only
        // with batch jobs, so a rule reading them would go stale silently.
        let read = tags
            .first()
            .map(|t| format!("other tags (tag({t:?}))"))
            .or_else(|| models.first().map(|m| format!("model scores (score({m:?}))")));
        if let Some(read) = read {
            return Err(AudienceError::Rule {
                rule: spec.name.clone(),
                origin: origin.to_string(),
                line: 1,
                col: 1,
                message: format!("a tag rule cannot read {read}; use it in an audience"),
            });
        }
        Ok(TagRule {
            name: spec.name.clone(),
            description: spec.description.clone(),
            condition: spec.when.clone(),
            expr,
            origin: origin.to_string(),
        })
    }
}

/// Parses every rule, reporting all the errors at once; names must be
/// unique.
pub fn parse_rules(specs: &[RuleSpec], origin: &str) -> Result<Vec<TagRule>, AudienceError> {
    let mut rules = Vec::new();
    let mut errors = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for spec in specs {
        if !seen.insert(spec.name.as_str()) {
            errors.push(format!("rule {:?} ({origin}) is declared twice", spec.name));
            continue;
        }
        match TagRule::parse(spec, origin) {
            Ok(r) => rules.push(r),
            Err(e) => errors.push(e.to_string()),
        }
    }
    match errors.len() {
        0 => Ok(rules),
        1 => Err(AudienceError::Invalid(errors.remove(0))),
        _ => Err(AudienceError::Invalid(errors.join("\n"))),
    }
}

/// The business plan's example rules, over the generated shop's categories
/// (`母婴` mother and baby, `宠物食品` pet food). They are the default
/// `[tags]` rules.
pub fn example_rules() -> Vec<RuleSpec> {
    let rule = |name: &str, description: &str, when: &str| RuleSpec {
        name: name.into(),
        description: description.into(),
        when: when.into(),
    };
    vec![
        rule(
            "new_parent",
            "viewed mother-and-baby products more than 5 times in the last 30 days",
            r#"count(events where name = "Product Viewed" and category = "母婴", 30d) > 5"#,
        ),
        rule(
            "pet_owner",
            "bought pet food in each of the last 3 calendar months",
            r#"each_month(3, count(lines where category = "宠物食品") >= 1)"#,
        ),
        rule(
            "price_sensitive",
            "at least 60% of orders used a discount or coupon",
            "share(orders where discounted) >= 0.6",
        ),
        rule(
            "ugc_creator",
            "at least 3 good reviews with pictures in each of the last 3 calendar months",
            r#"each_month(3, count(events where name = "Product Reviewed" and rating >= 4 and prop.images > 0) >= 3)"#,
        ),
        rule("app_first", "at least 80% of orders placed in the app", r#"share(orders where platform = "app") >= 0.8"#),
        rule(
            "cart_abandoner",
            "added to cart in the last 7 days and did not order within 24 hours",
            r#"count(events where name = "Product Added" and then_no(orders, 24h), 7d) >= 1"#,
        ),
    ]
}

/// The rules in force: the config's, then those stored through the API
/// (a stored rule cannot shadow a config rule of the same name; it is
/// skipped with a warning).
pub fn rules_in_force(
    config: Vec<TagRule>,
    store: &dyn cohort_store::AudienceStore,
) -> Result<Vec<TagRule>, AudienceError> {
    let mut rules = config;
    for stored in store.tag_rules()? {
        if rules.iter().any(|r| r.name == stored.name) {
            tracing::warn!(rule = %stored.name, "a stored rule has the name of a config rule; the config's is used");
            continue;
        }
        let spec = RuleSpec { name: stored.name, description: stored.description, when: stored.condition };
        rules.push(TagRule::parse(&spec, "api")?);
    }
    Ok(rules)
}
