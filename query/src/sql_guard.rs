//! A bound on how deeply SQL expressions nest, checked on the text before it is parsed or
//! planned.
//!
//! The parser's recursion limit stops nested parentheses, but `1+1+...+1` or a long `OR`
//! chain parses in a loop into a left-deep tree as deep as the chain is long; planning,
//! optimizing, evaluating and dropping that tree recurse once per level, and 2,000 terms
//! overflowed a tokio worker's stack (the process aborted for every tenant). So before
//! anything recurses, [`expression_depth`] bounds the depth from the tokens alone (an
//! iterative pass): each operator token (`+`, `=`, `::`, `AND`, `NOT`, `IS`, ...) may add a
//! level to the expression it is in, each open parenthesis or bracket adds one, and a
//! comma or a clause keyword (`SELECT`, `WHERE`, `WHEN`, ...) starts a new expression at
//! its level. The count is an upper bound of the tree's depth: a query it accepts cannot be
//! deeper, and a wide query (many select items, a long `IN` list, many `CASE` arms) is not
//! counted as deep.

use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};

/// The default bound on [`expression_depth`]: far above hand-written and generated
/// queries (Grafana's, the benches' and the tests' stay under 30), far below what
/// overflows a 2 MiB thread stack in a debug build.
pub const DEFAULT_MAX_EXPRESSION_DEPTH: usize = 256;

/// An upper bound of the nesting depth of the expressions in `sql` (see the module doc);
/// text that does not tokenize counts 0 and is left for the parser to refuse.
pub fn expression_depth(sql: &str) -> usize {
    let Ok(tokens) = Tokenizer::new(&GenericDialect {}, sql).tokenize() else {
        return 0;
    };
    // Operators counted per open parenthesis level, innermost last.
    let mut levels: Vec<usize> = vec![0];
    let mut depth = 0usize;
    let mut max = 0usize;
    for token in &tokens {
        match token {
            Token::LParen | Token::LBracket | Token::LBrace => {
                levels.push(0);
                depth += 1;
            }
            Token::RParen | Token::RBracket | Token::RBrace => {
                if levels.len() > 1
                    && let Some(n) = levels.pop()
                {
                    depth = depth.saturating_sub(n + 1);
                }
            }
            Token::Comma => reset_top(&mut levels, &mut depth),
            Token::SemiColon => {
                levels.clear();
                levels.push(0);
                depth = 0;
            }
            Token::Word(w) if is_clause(w.keyword) => reset_top(&mut levels, &mut depth),
            Token::Word(w) if is_operator_word(w.keyword) => add_level(&mut levels, &mut depth),
            t if is_operator(t) => add_level(&mut levels, &mut depth),
            _ => {}
        }
        max = max.max(depth);
    }
    max
}

/// Checks `sql` against `max_depth`; the error says what to change.
pub fn check_expression_depth(sql: &str, max_depth: usize) -> Result<(), String> {
    let depth = expression_depth(sql);
    if depth > max_depth {
        return Err(format!(
            "the SQL nests expressions about {depth} levels deep (each operator chained in one \
             expression and each parenthesis counts one); the limit is {max_depth}: use IN (...) \
             for long OR chains, or split the expression"
        ));
    }
    Ok(())
}

fn add_level(levels: &mut [usize], depth: &mut usize) {
    if let Some(top) = levels.last_mut() {
        *top += 1;
        *depth += 1;
    }
}

fn reset_top(levels: &mut [usize], depth: &mut usize) {
    if let Some(top) = levels.last_mut() {
        *depth -= *top;
        *top = 0;
    }
}

/// Keywords that start a new expression at their level.
fn is_clause(k: Keyword) -> bool {
    matches!(
        k,
        Keyword::SELECT
            | Keyword::FROM
            | Keyword::WHERE
            | Keyword::GROUP
            | Keyword::HAVING
            | Keyword::ORDER
            | Keyword::LIMIT
            | Keyword::OFFSET
            | Keyword::UNION
            | Keyword::EXCEPT
            | Keyword::INTERSECT
            | Keyword::JOIN
            | Keyword::ON
            | Keyword::USING
            | Keyword::WITH
            | Keyword::CASE
            | Keyword::WHEN
            | Keyword::THEN
            | Keyword::ELSE
            | Keyword::END
            | Keyword::QUALIFY
            | Keyword::WINDOW
    )
}

/// Keywords that combine or wrap expressions.
fn is_operator_word(k: Keyword) -> bool {
    matches!(
        k,
        Keyword::AND
            | Keyword::OR
            | Keyword::XOR
            | Keyword::NOT
            | Keyword::IS
            | Keyword::IN
            | Keyword::LIKE
            | Keyword::ILIKE
            | Keyword::SIMILAR
            | Keyword::BETWEEN
            | Keyword::COLLATE
            | Keyword::AT
            | Keyword::OVERLAPS
            | Keyword::DIV
            | Keyword::REGEXP
            | Keyword::RLIKE
            | Keyword::ESCAPE
    )
}

/// Operator tokens: what is neither a word, a literal, whitespace nor punctuation that
/// separates (those are handled before).
fn is_operator(t: &Token) -> bool {
    !matches!(
        t,
        Token::Word(_)
            | Token::Number(..)
            | Token::Char(_)
            | Token::SingleQuotedString(_)
            | Token::DoubleQuotedString(_)
            | Token::TripleSingleQuotedString(_)
            | Token::TripleDoubleQuotedString(_)
            | Token::DollarQuotedString(_)
            | Token::SingleQuotedByteStringLiteral(_)
            | Token::DoubleQuotedByteStringLiteral(_)
            | Token::TripleSingleQuotedByteStringLiteral(_)
            | Token::TripleDoubleQuotedByteStringLiteral(_)
            | Token::SingleQuotedRawStringLiteral(_)
            | Token::DoubleQuotedRawStringLiteral(_)
            | Token::TripleSingleQuotedRawStringLiteral(_)
            | Token::TripleDoubleQuotedRawStringLiteral(_)
            | Token::NationalStringLiteral(_)
            | Token::QuoteDelimitedStringLiteral(_)
            | Token::NationalQuoteDelimitedStringLiteral(_)
            | Token::EscapedStringLiteral(_)
            | Token::UnicodeStringLiteral(_)
            | Token::HexStringLiteral(_)
            | Token::Whitespace(_)
            | Token::Period
            | Token::Colon
            | Token::EOF
            | Token::Placeholder(_)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(op: &str, n: usize) -> String {
        let terms: Vec<String> = (0..n).map(|i| format!("x = {i}")).collect();
        format!("SELECT 1 FROM t WHERE {}", terms.join(&format!(" {op} ")))
    }

    #[test]
    fn depths_of_hand_counted_queries() {
        let cases: &[(&str, usize)] = &[
            ("SELECT 1", 0),
            ("SELECT 1+1", 1),
            ("SELECT 1+1+1+1", 3),
            ("SELECT (1+1)", 2),
            ("SELECT ((1))", 2),
            // Wide, not deep: commas start new expressions.
            ("SELECT a+1, b+1, c+1 FROM t", 1),
            ("SELECT f(a, b, c)", 1),
            ("SELECT 1 WHERE a IN (1, 2, 3, 4)", 2),
            // CASE arms are a list, not a nesting.
            ("SELECT CASE WHEN a=1 THEN 2 WHEN a=2 THEN 3 ELSE 4 END", 1),
            // Strings and quoted names are not operators.
            ("SELECT '+-*/', \"a+b\" FROM t", 0),
            ("SELECT x::int::bigint", 2),
            ("SELECT labels['pod'] FROM t", 1),
            // A statement separator starts over.
            ("SELECT 1+1+1; SELECT 2", 2),
        ];
        for (sql, want) in cases {
            assert_eq!(expression_depth(sql), *want, "{sql}");
        }
    }

    #[test]
    fn long_chains_are_refused_before_planning() {
        // `x = i` adds one level per term besides the connective.
        assert_eq!(expression_depth(&chain("OR", 10)), 19);
        let long = chain("OR", 10_000);
        let e = check_expression_depth(&long, DEFAULT_MAX_EXPRESSION_DEPTH).unwrap_err();
        assert!(e.contains("the limit is 256"), "{e}");
        let plus = format!("SELECT {}", vec!["1"; 2000].join("+"));
        assert_eq!(expression_depth(&plus), 1999);
        assert!(check_expression_depth(&plus, 256).is_err());
        assert!(check_expression_depth(&chain("AND", 100), 256).is_ok());
        // Unbalanced text is left to the parser.
        assert!(check_expression_depth("SELECT ))) (((", 256).is_ok());
    }
}
