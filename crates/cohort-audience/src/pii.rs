//! Masking of personal data. Every output of the engine (profiles, members,
//! exports) goes through [`Pii`]: masked unless the caller may see it.

use serde_json::{Map, Value};

/// Whether personal data is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Pii {
    /// Masked (the default everywhere).
    #[default]
    Masked,
    /// Shown as stored (a role allowed it, or `--show-pii`).
    Shown,
}

/// Trait keys treated as personal data (matched case-insensitively, as a
/// whole key or a `_`-separated part: `email`, `contact_phone`, `real_name`).
const PII_KEYS: &[&str] =
    &["phone", "mobile", "tel", "email", "name", "address", "id_card", "idcard", "wechat", "birthday", "ip"];

impl Pii {
    /// A phone number: `138****5678` (the operator prefix and last four digits).
    pub fn phone(self, phone: &str) -> String {
        if self == Pii::Shown {
            return phone.to_string();
        }
        let chars: Vec<char> = phone.chars().collect();
        if chars.len() >= 8 {
            let head: String = chars[..3].iter().collect();
            let tail: String = chars[chars.len() - 4..].iter().collect();
            format!("{head}****{tail}")
        } else {
            "****".to_string()
        }
    }

    /// Any other personal text: the first character and `***`; an email
    /// keeps its domain (`a***@example.com`).
    pub fn text(self, text: &str) -> String {
        if self == Pii::Shown {
            return text.to_string();
        }
        let first: String = text.chars().take(1).collect();
        match text.split_once('@') {
            Some((_, domain)) => format!("{first}***@{domain}"),
            None => format!("{first}***"),
        }
    }

    /// A trait map with personal values masked (strings masked, other
    /// values replaced by `"***"`).
    pub fn traits(self, traits: &Map<String, Value>) -> Map<String, Value> {
        if self == Pii::Shown {
            return traits.clone();
        }
        traits
            .iter()
            .map(|(k, v)| {
                let masked = if is_pii_key(k) {
                    match v {
                        Value::String(s) if k.to_ascii_lowercase().contains("phone") || k == "mobile" => {
                            Value::String(self.phone(s))
                        }
                        Value::String(s) => Value::String(self.text(s)),
                        Value::Null => Value::Null,
                        _ => Value::String("***".into()),
                    }
                } else {
                    v.clone()
                };
                (k.clone(), masked)
            })
            .collect()
    }
}

/// Whether a trait key names personal data.
pub fn is_pii_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    PII_KEYS.iter().any(|p| key == *p || key.split(['_', '-', '.']).any(|part| part == *p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_phones_emails_and_pii_traits() {
        assert_eq!(Pii::Masked.phone("13812345678"), "138****5678");
        assert_eq!(Pii::Masked.phone("+86 138"), "****");
        assert_eq!(Pii::Shown.phone("13812345678"), "13812345678");
        assert_eq!(Pii::Masked.text("li.lei@example.com"), "l***@example.com");
        assert_eq!(Pii::Masked.text("李雷"), "李***");
        let traits: Map<String, Value> = serde_json::from_str(
            r#"{"email":"a@b.cn","real_name":"韩梅梅","contact_phone":"13900001111","vip":true,"ip":"1.2.3.4","age":30}"#,
        )
        .unwrap();
        let masked = Pii::Masked.traits(&traits);
        assert_eq!(masked["email"], "a***@b.cn");
        assert_eq!(masked["real_name"], "韩***");
        assert_eq!(masked["contact_phone"], "139****1111");
        assert_eq!(masked["vip"], true);
        assert_eq!(masked["age"], 30);
        assert_eq!(masked["ip"], "1***");
        assert_eq!(Pii::Shown.traits(&traits), traits);
    }
}
