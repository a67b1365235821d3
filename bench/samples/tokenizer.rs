//! A small tokenizer and expression evaluator for arithmetic with variables.

use std::collections::HashMap;
use std::fmt;

#[derive(Debug, Clone, PartialEq)]
pub enum Token {
    Number(f64),
    Ident(String),
    Plus,
    Minus,
    Star,
    Slash,
    Caret,
    LParen,
    RParen,
    Assign,
}

#[derive(Debug, PartialEq)]
pub enum Error {
    UnexpectedChar(char, usize),
    UnexpectedEnd,
    UnexpectedToken(Token),
    UnknownVariable(String),
    DivisionByZero,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::UnexpectedChar(c, pos) => write!(f, "unexpected '{}' at {}", c, pos),
            Error::UnexpectedEnd => write!(f, "unexpected end of input"),
            Error::UnexpectedToken(t) => write!(f, "unexpected token {:?}", t),
            Error::UnknownVariable(name) => write!(f, "unknown variable {}", name),
            Error::DivisionByZero => write!(f, "division by zero"),
        }
    }
}

impl std::error::Error for Error {}

pub fn tokenize(input: &str) -> Result<Vec<Token>, Error> {
    let mut tokens = Vec::new();
    let chars: Vec<char> = input.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            ' ' | '\t' | '\n' => {
                i += 1;
            }
            '0'..='9' | '.' => {
                let start = i;
                while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                    i += 1;
                }
                let text: String = chars[start..i].iter().collect();
                let value = text.parse().map_err(|_| Error::UnexpectedChar(c, start))?;
                tokens.push(Token::Number(value));
            }
            'a'..='z' | 'A'..='Z' | '_' => {
                let start = i;
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                tokens.push(Token::Ident(chars[start..i].iter().collect()));
            }
            '+' => {
                tokens.push(Token::Plus);
                i += 1;
            }
            '-' => {
                tokens.push(Token::Minus);
                i += 1;
            }
            '*' => {
                tokens.push(Token::Star);
                i += 1;
            }
            '/' => {
                tokens.push(Token::Slash);
                i += 1;
            }
            '^' => {
                tokens.push(Token::Caret);
                i += 1;
            }
            '(' => {
                tokens.push(Token::LParen);
                i += 1;
            }
            ')' => {
                tokens.push(Token::RParen);
                i += 1;
            }
            '=' => {
                tokens.push(Token::Assign);
                i += 1;
            }
            other => return Err(Error::UnexpectedChar(other, i)),
        }
    }
    Ok(tokens)
}

pub struct Evaluator {
    vars: HashMap<String, f64>,
}

struct Parser<'a> {
    tokens: &'a [Token],
    pos: usize,
    vars: &'a HashMap<String, f64>,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        token
    }

    fn expression(&mut self) -> Result<f64, Error> {
        let mut value = self.term()?;
        while let Some(token) = self.peek() {
            match token {
                Token::Plus => {
                    self.next();
                    value += self.term()?;
                }
                Token::Minus => {
                    self.next();
                    value -= self.term()?;
                }
                _ => break,
            }
        }
        Ok(value)
    }

    fn term(&mut self) -> Result<f64, Error> {
        let mut value = self.power()?;
        while let Some(token) = self.peek() {
            match token {
                Token::Star => {
                    self.next();
                    value *= self.power()?;
                }
                Token::Slash => {
                    self.next();
                    let divisor = self.power()?;
                    if divisor == 0.0 {
                        return Err(Error::DivisionByZero);
                    }
                    value /= divisor;
                }
                _ => break,
            }
        }
        Ok(value)
    }

    fn power(&mut self) -> Result<f64, Error> {
        let base = self.unary()?;
        if let Some(Token::Caret) = self.peek() {
            self.next();
            let exponent = self.power()?;
            return Ok(base.powf(exponent));
        }
        Ok(base)
    }

    fn unary(&mut self) -> Result<f64, Error> {
        match self.next() {
            Some(Token::Minus) => Ok(-self.unary()?),
            Some(Token::Number(n)) => Ok(n),
            Some(Token::Ident(name)) => self
                .vars
                .get(&name)
                .copied()
                .ok_or(Error::UnknownVariable(name)),
            Some(Token::LParen) => {
                let value = self.expression()?;
                match self.next() {
                    Some(Token::RParen) => Ok(value),
                    Some(other) => Err(Error::UnexpectedToken(other)),
                    None => Err(Error::UnexpectedEnd),
                }
            }
            Some(other) => Err(Error::UnexpectedToken(other)),
            None => Err(Error::UnexpectedEnd),
        }
    }
}

impl Evaluator {
    pub fn new() -> Self {
        Evaluator { vars: HashMap::new() }
    }

    pub fn eval(&mut self, line: &str) -> Result<f64, Error> {
        let tokens = tokenize(line)?;
        if let [Token::Ident(name), Token::Assign, rest @ ..] = tokens.as_slice() {
            let value = self.eval_tokens(rest)?;
            self.vars.insert(name.clone(), value);
            return Ok(value);
        }
        self.eval_tokens(&tokens)
    }

    fn eval_tokens(&self, tokens: &[Token]) -> Result<f64, Error> {
        let mut parser = Parser { tokens, pos: 0, vars: &self.vars };
        let value = parser.expression()?;
        match parser.next() {
            None => Ok(value),
            Some(extra) => Err(Error::UnexpectedToken(extra)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence() {
        let mut ev = Evaluator::new();
        assert_eq!(ev.eval("1 + 2 * 3").unwrap(), 7.0);
        assert_eq!(ev.eval("2 ^ 3 ^ 2").unwrap(), 512.0);
    }

    #[test]
    fn variables() {
        let mut ev = Evaluator::new();
        ev.eval("x = 4").unwrap();
        assert_eq!(ev.eval("x * (x - 1)").unwrap(), 12.0);
        assert_eq!(ev.eval("y"), Err(Error::UnknownVariable("y".into())));
    }
}
