//! Jenkins' `tree=` query parameter: `a,b[c,d[e]]{0,5}` keeps only the named fields (and
//! `_class`, which Jenkins always adds). A nested object named without `[...]` comes back
//! as its `_class` alone, as in Jenkins, so a client that forgets a sub-field notices.
//! `{M,N}` slices an array (M inclusive, N exclusive), `{M,}`, `{,N}` and `{N}` too.

use serde_json::{Map, Value};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Tree(Vec<Field>);

#[derive(Debug, Clone, PartialEq, Eq)]
struct Field {
    name: String,
    sub: Tree,
    range: Option<(Option<usize>, Option<usize>)>,
}

/// Parses a tree spec; the error says where it went wrong.
pub(crate) fn parse(spec: &str) -> Result<Tree, String> {
    let mut p = Parser {
        chars: spec.chars().collect(),
        pos: 0,
    };
    let tree = p.tree()?;
    if p.pos < p.chars.len() {
        return Err(format!("unexpected `{}` at {}", p.chars[p.pos], p.pos));
    }
    Ok(tree)
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn tree(&mut self) -> Result<Tree, String> {
        let mut fields = vec![self.field()?];
        while self.peek() == Some(',') {
            self.pos += 1;
            fields.push(self.field()?);
        }
        Ok(Tree(fields))
    }

    fn field(&mut self) -> Result<Field, String> {
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$')
        {
            self.pos += 1;
        }
        if self.pos == start {
            return Err(format!("a field name expected at {start}"));
        }
        let name: String = self.chars[start..self.pos].iter().collect();
        let mut sub = Tree::default();
        if self.peek() == Some('[') {
            self.pos += 1;
            sub = self.tree()?;
            if self.peek() != Some(']') {
                return Err(format!("`]` expected at {}", self.pos));
            }
            self.pos += 1;
        }
        let mut range = None;
        if self.peek() == Some('{') {
            self.pos += 1;
            range = Some(self.range()?);
        }
        Ok(Field { name, sub, range })
    }

    fn number(&mut self) -> Option<usize> {
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        let digits: String = self.chars[start..self.pos].iter().collect();
        digits.parse().ok()
    }

    fn range(&mut self) -> Result<(Option<usize>, Option<usize>), String> {
        let from = self.number();
        let range = if self.peek() == Some(',') {
            self.pos += 1;
            (from, self.number())
        } else {
            // `{N}`: element N alone.
            (from, from.map(|n| n + 1))
        };
        if self.peek() != Some('}') {
            return Err(format!("`}}` expected at {}", self.pos));
        }
        self.pos += 1;
        Ok(range)
    }
}

/// `value` with only what `tree` asks for.
pub(crate) fn apply(value: &Value, tree: &Tree) -> Value {
    match value {
        Value::Object(map) => {
            let mut out = Map::new();
            if let Some(class) = map.get("_class") {
                out.insert("_class".into(), class.clone());
            }
            for f in &tree.0 {
                if let Some(v) = map.get(&f.name) {
                    out.insert(f.name.clone(), apply(&slice(v, f.range), &f.sub));
                }
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(|v| apply(v, tree)).collect()),
        other => other.clone(),
    }
}

fn slice(v: &Value, range: Option<(Option<usize>, Option<usize>)>) -> Value {
    match (v, range) {
        (Value::Array(items), Some((from, to))) => {
            let from = from.unwrap_or(0).min(items.len());
            let to = to.unwrap_or(items.len()).clamp(from, items.len());
            Value::Array(items[from..to].to_vec())
        }
        _ => v.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn filter(spec: &str, v: Value) -> Value {
        apply(&v, &parse(spec).unwrap())
    }

    #[test]
    fn only_the_named_fields_come_back() {
        let build = json!({
            "_class": "B", "number": 3, "result": "FAILURE",
            "changeSets": [{"_class": "G", "kind": "git", "items": [
                {"_class": "C", "commitId": "abc", "msg": "fix", "comment": "fix\n",
                 "author": {"_class": "U", "fullName": "Ann", "absoluteUrl": "http://x"},
                 "affectedPaths": ["a", "b"]}
            ]}]
        });
        assert_eq!(
            filter(
                "number,changeSets[items[commitId,author[fullName]]]",
                build.clone()
            ),
            json!({"_class": "B", "number": 3, "changeSets": [{"_class": "G", "items": [
                {"_class": "C", "commitId": "abc", "author": {"_class": "U", "fullName": "Ann"}}
            ]}]})
        );
        // A nested object without sub-fields is its class only, as in Jenkins.
        assert_eq!(
            filter("changeSets[items[author]]", build)["changeSets"][0]["items"][0]["author"],
            json!({"_class": "U"})
        );
    }

    #[test]
    fn ranges_slice_arrays() {
        let v = json!({"builds": [{"number": 5}, {"number": 4}, {"number": 3}]});
        let numbers = |spec: &str| {
            filter(spec, v.clone())["builds"]
                .as_array()
                .unwrap()
                .iter()
                .map(|b| b["number"].as_i64().unwrap())
                .collect::<Vec<_>>()
        };
        assert_eq!(numbers("builds[number]{0,2}"), [5, 4]);
        assert_eq!(numbers("builds[number]{1,}"), [4, 3]);
        assert_eq!(numbers("builds[number]{,1}"), [5]);
        assert_eq!(numbers("builds[number]{2}"), [3]);
        assert_eq!(numbers("builds[number]{7,9}"), Vec::<i64>::new());
    }

    #[test]
    fn malformed_specs_are_refused() {
        for spec in ["", "a[b", "a,", "a{1", "a]"] {
            assert!(parse(spec).is_err(), "{spec}");
        }
    }
}
