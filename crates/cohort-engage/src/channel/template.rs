//! Message templates: a subject and a body with `{{variable}}` placeholders
//! (name, coupon amount, product, expiry…), checked when the template is
//! made and filled per person. Text is UTF-8 throughout; SMS length is
//! counted in characters, not bytes, since Chinese messages are billed per
//! 70-character segment.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::EngageError;

/// Values for a template's variables.
pub type Vars = BTreeMap<String, String>;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Var(String),
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "TemplateSpec", into = "TemplateSpec")]
pub struct Template {
    name: String,
    subject: Vec<Part>,
    body: Vec<Part>,
    spec: TemplateSpec,
}

/// A template as configured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateSpec {
    /// Name used in errors and reports.
    pub name: String,
    /// Subject or title (may be empty).
    #[serde(default)]
    pub subject: String,
    /// The text.
    pub body: String,
}

/// A filled template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rendered {
    /// Subject or title.
    pub subject: String,
    /// The text.
    pub body: String,
}

impl Template {
    /// Parses `subject` and `body`; refuses an unclosed `{{`, an empty or
    /// malformed variable name.
    pub fn new(name: &str, subject: &str, body: &str) -> Result<Template, EngageError> {
        let spec = TemplateSpec { name: name.to_string(), subject: subject.to_string(), body: body.to_string() };
        Template::try_from(spec)
    }

    /// The template's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Every variable the template uses, sorted, without repeats.
    pub fn variables(&self) -> Vec<&str> {
        let mut vars: Vec<&str> = self
            .subject
            .iter()
            .chain(&self.body)
            .filter_map(|p| match p {
                Part::Var(v) => Some(v.as_str()),
                Part::Text(_) => None,
            })
            .collect();
        vars.sort_unstable();
        vars.dedup();
        vars
    }

    /// Fills the template; a variable without a value is an error naming it.
    pub fn render(&self, vars: &Vars) -> Result<Rendered, EngageError> {
        Ok(Rendered { subject: self.fill(&self.subject, vars)?, body: self.fill(&self.body, vars)? })
    }

    fn fill(&self, parts: &[Part], vars: &Vars) -> Result<String, EngageError> {
        let mut out = String::new();
        for part in parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Var(v) => match vars.get(v) {
                    Some(value) => out.push_str(value),
                    None => return Err(EngageError::MissingVariable { template: self.name.clone(), name: v.clone() }),
                },
            }
        }
        Ok(out)
    }
}

impl TryFrom<TemplateSpec> for Template {
    type Error = EngageError;
    fn try_from(spec: TemplateSpec) -> Result<Self, Self::Error> {
        if spec.body.trim().is_empty() {
            return Err(EngageError::invalid("template body", &spec.name, "must not be empty"));
        }
        Ok(Template {
            name: spec.name.clone(),
            subject: parse(&spec.name, &spec.subject)?,
            body: parse(&spec.name, &spec.body)?,
            spec,
        })
    }
}

impl From<Template> for TemplateSpec {
    fn from(t: Template) -> TemplateSpec {
        t.spec
    }
}

fn parse(name: &str, text: &str) -> Result<Vec<Part>, EngageError> {
    let mut parts = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find("{{") {
        if open > 0 {
            parts.push(Part::Text(rest[..open].to_string()));
        }
        let after = &rest[open + 2..];
        let close = after
            .find("}}")
            .ok_or_else(|| EngageError::invalid("template", name, format!("unclosed {{{{ at {:?}", truncate(after))))?;
        let var = after[..close].trim();
        if var.is_empty() || !var.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(EngageError::invalid(
                "template",
                name,
                format!("variable {var:?} must be letters, digits or _"),
            ));
        }
        parts.push(Part::Var(var.to_string()));
        rest = &after[close + 2..];
    }
    if !rest.is_empty() {
        parts.push(Part::Text(rest.to_string()));
    }
    Ok(parts)
}

fn truncate(s: &str) -> String {
    s.chars().take(20).collect()
}

/// Billable SMS segments for `body`: 70 characters in one message with any
/// non-GSM character (Chinese), 67 per segment once split; 160 / 153 for
/// plain ASCII. Counted in characters, so one Chinese character is one.
pub fn sms_segments(body: &str) -> u32 {
    let chars = body.chars().count() as u32;
    let (single, multi) = if body.is_ascii() { (160, 153) } else { (70, 67) };
    if chars <= single {
        1
    } else {
        chars.div_ceil(multi)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vars {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn renders_chinese_text_with_variables() {
        let t = Template::new(
            "wake_up_light",
            "{{name}}，好久不见",
            "亲爱的{{name}}，送您一张¥{{coupon_amount}}无门槛券，{{expiry}}前有效，{{product}}正在等您。回T退订",
        )
        .unwrap();
        assert_eq!(t.variables(), vec!["coupon_amount", "expiry", "name", "product"]);
        let r = t
            .render(&vars(&[("name", "王芳"), ("coupon_amount", "10"), ("expiry", "5月7日"), ("product", "燕麦拿铁")]))
            .unwrap();
        assert_eq!(r.subject, "王芳，好久不见");
        assert_eq!(r.body, "亲爱的王芳，送您一张¥10无门槛券，5月7日前有效，燕麦拿铁正在等您。回T退订");
        assert_eq!(r.body.chars().count(), 39);
        assert_eq!(sms_segments(&r.body), 1);
    }

    #[test]
    fn missing_variable_and_bad_syntax_are_named() {
        let t = Template::new("t", "", "你好 {{ name }}，券 {{coupon_amount}}").unwrap();
        let e = t.render(&vars(&[("name", "李")])).unwrap_err().to_string();
        assert!(e.contains("coupon_amount") && e.contains("\"t\""), "{e}");
        let e = Template::new("broken", "", "你好 {{name").unwrap_err().to_string();
        assert!(e.contains("unclosed") && e.contains("broken"), "{e}");
        let e = Template::new("bad", "", "{{na-me}}").unwrap_err().to_string();
        assert!(e.contains("na-me"), "{e}");
        assert!(Template::new("empty", "x", "  ").is_err());
    }

    #[test]
    fn sms_segments_count_characters() {
        assert_eq!(sms_segments(&"好".repeat(70)), 1);
        assert_eq!(sms_segments(&"好".repeat(71)), 2);
        assert_eq!(sms_segments(&"好".repeat(134)), 2);
        assert_eq!(sms_segments(&"好".repeat(135)), 3);
        assert_eq!(sms_segments(&"a".repeat(160)), 1);
        assert_eq!(sms_segments(&"a".repeat(161)), 2);
    }
}
