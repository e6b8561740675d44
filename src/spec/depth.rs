//! How deeply a spec file nests, found by a linear pre-scan of its text before any parser sees it.
//!
//! libyaml's scanner (under the `serde_yaml` spec files were once read with) did work
//! proportional to the nesting depth for every token, so `jobs: [[[[…]]]]` a few hundred
//! kilobytes long cost tens of seconds of CPU before the depth limit inside the deserializer
//! refused it. serde-saphyr ([`super::file`]) has a depth budget of its own, but a parser's
//! limit is met only after it has scanned that far, and the next parser may not have one. No real
//! spec nests more than a handful of levels, so the loader refuses anything deeper than
//! [`MAX_DEPTH`] from this scan, which reads each character once, whatever parser follows.
//!
//! The scan is a small tokenizer that follows what opens a level in each syntax:
//!
//! - YAML: flow brackets `[` `{` outside quoted scalars and comments, the block indentation
//!   levels (a stack of indents of the non-empty, non-comment lines) and the `- ` / `? ` / `: `
//!   indicators that open a node on the same line. Like libyaml, a quote opens a quoted scalar
//!   only where a token starts (not inside a plain scalar such as `it's`), quoted scalars may
//!   span lines, and the lines of block scalars (`|`, `>`) and of plain scalars continued on
//!   more indented lines are text, not structure.
//! - JSON: brackets outside strings.
//! - TOML: brackets (inline tables and arrays) outside strings and comments.
//!
//! It may count a level too many in odd but valid files (never near the limit in practice);
//! what matters is that a deeply nested file cannot hide its depth from it.

/// The deepest nesting a spec file may have.
pub const MAX_DEPTH: usize = 64;

/// The syntax of a spec file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syntax {
    Yaml,
    Json,
    Toml,
}

/// The line (1-based) where `text` first nests more than `max` levels, if it does.
pub fn too_deep(text: &str, syntax: Syntax, max: usize) -> Option<usize> {
    match syntax {
        Syntax::Yaml => Yaml::default().too_deep(text, max),
        Syntax::Json | Syntax::Toml => brackets_too_deep(text, syntax, max),
    }
}

/// JSON and TOML: only brackets nest (TOML's `[table]` headers open and close on their line).
fn brackets_too_deep(text: &str, syntax: Syntax, max: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut line = 1;
    // The open string's delimiter: `"`, `'`, or (TOML) `"""` / `'''`.
    let mut string: Option<&[u8]> = None;
    let mut i = 0;
    while i < bytes.len() {
        let rest = &bytes[i..];
        let c = bytes[i];
        if c == b'\n' {
            line += 1;
        }
        if let Some(delim) = string {
            if c == b'\\' && delim[0] == b'"' {
                // An escape: skip the escaped byte (a newline in it still counts).
                if bytes.get(i + 1) == Some(&b'\n') {
                    line += 1;
                }
                i += 2;
                continue;
            }
            if rest.starts_with(delim) {
                string = None;
                i += delim.len();
                continue;
            }
            i += 1;
            continue;
        }
        match c {
            b'"' | b'\''
                if syntax == Syntax::Toml && rest.len() >= 3 && rest[1] == c && rest[2] == c =>
            {
                string = Some(&rest[..3]);
                i += 3;
                continue;
            }
            b'"' => string = Some(b"\""),
            b'\'' if syntax == Syntax::Toml => string = Some(b"'"),
            b'#' if syntax == Syntax::Toml => {
                // A comment: to the end of the line.
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return Some(line);
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    None
}

/// The YAML scanner's state, carried from line to line.
#[derive(Default)]
struct Yaml {
    /// Open flow collections.
    flow: usize,
    /// The block depth where the outermost open flow collection started.
    flow_base: usize,
    /// An open quoted scalar: its quote character.
    quote: Option<char>,
    /// Indents of the enclosing block lines.
    indents: Vec<usize>,
    /// An open plain scalar: it continues on lines indented more than this (any line in flow).
    plain: Option<usize>,
    /// A block scalar header was seen: its lines are those indented more than `parent`, at
    /// the first one's indent (`content`) or more.
    block_scalar: Option<(usize, Option<usize>)>,
}

impl Yaml {
    fn too_deep(mut self, text: &str, max: usize) -> Option<usize> {
        for (n, line) in text.lines().enumerate() {
            let chars: Vec<char> = line.chars().collect();
            if self.line_depth(&chars) > max {
                return Some(n + 1);
            }
        }
        None
    }

    /// Scans one line; returns the deepest level reached on it.
    fn line_depth(&mut self, chars: &[char]) -> usize {
        let indent = chars.iter().take_while(|c| **c == ' ').count();
        let blank = chars[indent..].iter().all(|c| c.is_whitespace());
        if self.quote.is_some() {
            return self.scan(chars, 0, self.flow_base + self.flow);
        }
        if blank {
            return 0;
        }
        if self.flow > 0 {
            // Inside brackets indentation means nothing; a plain scalar goes on until a flow
            // indicator, over lines.
            let depth = self.flow_base + self.flow;
            return match self.plain {
                Some(_) => self.scan_plain(chars, indent, depth),
                None => self.scan(chars, indent, depth),
            };
        }
        if let Some((parent, content)) = self.block_scalar {
            match content {
                None if indent > parent => {
                    self.block_scalar = Some((parent, Some(indent)));
                    return 0;
                }
                Some(content) if indent >= content => return 0,
                _ => self.block_scalar = None,
            }
        }
        if chars[indent] == '#' {
            // A comment line ends a plain scalar.
            self.plain = None;
            return 0;
        }
        if let Some(parent) = self.plain {
            if indent > parent {
                // More of a plain scalar: text, whatever it holds.
                return self.scan_plain(chars, indent, self.indents.len());
            }
            self.plain = None;
        }
        while self.indents.last().is_some_and(|&i| i > indent) {
            self.indents.pop();
        }
        if self.indents.last().is_none_or(|&i| i < indent) {
            self.indents.push(indent);
        }
        let depth = self.indents.len();
        self.scan(chars, indent, depth)
    }

    /// Tokens from `start` on, at block depth `depth`; returns the deepest level reached.
    fn scan(&mut self, chars: &[char], start: usize, mut depth: usize) -> usize {
        let mut deepest = depth;
        // Column where this line's innermost block node starts (after `- `, `? ` indicators).
        let mut node = start;
        let mut i = start;
        // Continue a quoted scalar from an earlier line.
        if let Some(q) = self.quote {
            i = self.close_quote(chars, i, q);
            if self.quote.is_some() {
                return deepest;
            }
        }
        let at_blank = |j: usize| chars.get(j).is_none_or(|c| c.is_whitespace());
        while i < chars.len() {
            let c = chars[i];
            let in_flow = self.flow > 0;
            match c {
                c if c.is_whitespace() => i += 1,
                '#' => return deepest,
                '[' | '{' => {
                    if self.flow == 0 {
                        self.flow_base = depth;
                    }
                    self.flow += 1;
                    deepest = deepest.max(self.flow_base + self.flow);
                    i += 1;
                }
                ']' | '}' => {
                    self.flow = self.flow.saturating_sub(1);
                    i += 1;
                }
                ',' if in_flow => i += 1,
                '-' | '?' | ':' if at_blank(i + 1) || (in_flow && c != '-') => {
                    if !in_flow && c != ':' {
                        // A block sequence entry or complex key opens a level on this line.
                        depth += 1;
                        deepest = deepest.max(depth);
                        node = i + 2;
                    }
                    i += 1;
                }
                '\'' | '"' => {
                    self.quote = Some(c);
                    i = self.close_quote(chars, i + 1, c);
                    if self.quote.is_some() {
                        return deepest;
                    }
                }
                '&' | '*' | '!' => {
                    // Anchor, alias or tag: one word.
                    while i < chars.len()
                        && !chars[i].is_whitespace()
                        && !(in_flow && ",[]{}".contains(chars[i]))
                    {
                        i += 1;
                    }
                }
                '|' | '>' if !in_flow => {
                    // A block scalar: the rest of the line is its header; its lines follow,
                    // indented more than the node that holds it.
                    let parent = if node == i {
                        node.saturating_sub(2)
                    } else {
                        node
                    };
                    self.block_scalar = Some((parent, None));
                    return deepest;
                }
                _ => {
                    i = self.plain_from(chars, i, node);
                    if self.plain.is_some() {
                        return deepest;
                    }
                }
            }
        }
        deepest
    }

    /// A continuation line of a plain scalar: it may end on this line (then the rest is tokens).
    fn scan_plain(&mut self, chars: &[char], start: usize, depth: usize) -> usize {
        let parent = self.plain.take().unwrap_or_default();
        let end = self.plain_from(chars, start, parent);
        if self.plain.is_some() || end >= chars.len() {
            return depth;
        }
        self.scan(chars, end, depth)
    }

    /// Skips a plain scalar starting at `i`; returns where it ends. When it reaches the end of
    /// the line it may go on: `self.plain` then holds the indent its continuation must exceed.
    fn plain_from(&mut self, chars: &[char], mut i: usize, parent: usize) -> usize {
        let in_flow = self.flow > 0;
        while i < chars.len() {
            let c = chars[i];
            let next_blank = chars.get(i + 1).is_none_or(|c| c.is_whitespace());
            if c == ':' && (next_blank || (in_flow && ",[]{}".contains(chars[i + 1]))) {
                return i;
            }
            if c == '#' && i > 0 && chars[i - 1].is_whitespace() {
                return i;
            }
            if in_flow && ",[]{}".contains(c) {
                return i;
            }
            i += 1;
        }
        self.plain = Some(parent);
        i
    }

    /// Skips to just after the closing `q` from `i`; leaves `self.quote` set when the line ends
    /// first.
    fn close_quote(&mut self, chars: &[char], mut i: usize, q: char) -> usize {
        while i < chars.len() {
            match chars[i] {
                '\\' if q == '"' => i += 2,
                '\'' if q == '\'' && chars.get(i + 1) == Some(&'\'') => i += 2,
                c if c == q => {
                    self.quote = None;
                    return i + 1;
                }
                _ => i += 1,
            }
        }
        self.quote = Some(q);
        i
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn depth_ok(text: &str, syntax: Syntax, max: usize) -> bool {
        too_deep(text, syntax, max).is_none()
    }

    #[test]
    fn flow_brackets_count_outside_quotes_and_comments() {
        let deep = format!("jobs: {}{}", "[".repeat(100), "]".repeat(100));
        assert_eq!(too_deep(&deep, Syntax::Yaml, 64), Some(1));
        assert!(depth_ok(
            "jobs: ['[[[[', \"{{{{\", a]  # [[[[[[\n",
            Syntax::Yaml,
            2
        ));
        assert!(depth_ok("name: it's [[[[ not a list\n", Syntax::Yaml, 1));
        assert!(depth_ok("a: [1, [2, [3]]]\n", Syntax::Yaml, 4));
        assert!(!depth_ok("a: [1, [2, [3]]]\n", Syntax::Yaml, 3));
        // A quoted scalar spanning lines hides nothing after it closes.
        let text = format!("a: ['x\n{}' , {}]\n", "]".repeat(10), "[".repeat(20));
        assert_eq!(too_deep(&text, Syntax::Yaml, 10), Some(2));
    }

    #[test]
    fn block_indentation_and_indicators_count() {
        let mut text = String::new();
        for level in 0..70 {
            text.push_str(&format!("{}k{level}:\n", " ".repeat(level)));
        }
        assert_eq!(too_deep(&text, Syntax::Yaml, 64), Some(65));
        let dashes = format!("{} x\n", "- ".repeat(70));
        assert_eq!(too_deep(&dashes, Syntax::Yaml, 64), Some(1));
        let spec = "project_id: p\njobs:\n  - id: a\n    success: { sub_jobs: { at_least: 2 } }\n";
        assert!(depth_ok(spec, Syntax::Yaml, 6));
    }

    #[test]
    fn block_and_plain_scalar_lines_are_text() {
        let mut text = "script: |\n".to_owned();
        for level in 1..100 {
            text.push_str(&format!("{}[{{ '\n", " ".repeat(level)));
        }
        text.push_str("other: [x]\n");
        assert!(
            depth_ok(&text, Syntax::Yaml, 3),
            "{:?}",
            too_deep(&text, Syntax::Yaml, 3)
        );
        // A sibling key after a block scalar under a sequence entry is structure again.
        let text = format!("- key: |\n    text\n  other: {}\n", "[".repeat(10));
        assert_eq!(too_deep(&text, Syntax::Yaml, 5), Some(3));
        // A quote inside a continued plain scalar opens nothing.
        let text = format!("key: a\n  'b\n{}: x\n", "[".repeat(10));
        assert_eq!(too_deep(&text, Syntax::Yaml, 5), Some(3));
    }

    #[test]
    fn json_and_toml_brackets() {
        let json = format!("{{\"a\": {}\"]]]\"{}}}", "[".repeat(70), "]".repeat(70));
        assert_eq!(too_deep(&json, Syntax::Json, 64), Some(1));
        assert!(depth_ok(
            r#"{"a": "[[[[[", "b": [1, {"c": 2}]}"#,
            Syntax::Json,
            3
        ));
        let toml = "[[jobs]]\nid = \"[[[[\"\nx = '''\n[[[[\n'''\n# [[[[\ny = { a = [1] }\n";
        assert!(
            depth_ok(toml, Syntax::Toml, 2),
            "{:?}",
            too_deep(toml, Syntax::Toml, 2)
        );
        assert!(!depth_ok("a = [[[1]]]\n", Syntax::Toml, 2));
    }
}
