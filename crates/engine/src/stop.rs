//! Stop strings that never leak: text that might be the start of a stop
//! string is held back until it is known not to be one.

/// Streams text through, cutting it at the first stop string.
pub struct StopMatcher {
    stops: Vec<String>,
    /// Text received but not yet released (a possible stop-string prefix).
    pending: String,
}

/// What [`StopMatcher::push`] decided.
#[derive(Debug, PartialEq, Eq)]
pub enum StopState {
    /// Keep going.
    Continue,
    /// A stop string matched; the text before it has been released.
    Stopped,
}

impl StopMatcher {
    pub fn new(stops: &[String]) -> StopMatcher {
        let longest = stops.iter().map(String::len).max().unwrap_or(0);
        StopMatcher {
            stops: stops.to_vec(),
            pending: String::with_capacity(longest * 2 + 64),
        }
    }

    /// Adds `text`; appends to `out` what is safe to show.
    pub fn push(&mut self, text: &str, out: &mut String) -> StopState {
        if self.stops.is_empty() {
            out.push_str(text);
            return StopState::Continue;
        }
        self.pending.push_str(text);
        if let Some(at) = self
            .stops
            .iter()
            .filter_map(|s| self.pending.find(s.as_str()))
            .min()
        {
            out.push_str(&self.pending[..at]);
            self.pending.clear();
            return StopState::Stopped;
        }
        // Hold back the longest suffix that is a proper prefix of a stop string.
        let mut hold = 0;
        for s in &self.stops {
            for (i, _) in s.char_indices().skip(1) {
                if i > hold && self.pending.ends_with(&s[..i]) {
                    hold = i;
                }
            }
        }
        let release = self.pending.len() - hold;
        out.push_str(&self.pending[..release]);
        self.pending.drain(..release);
        StopState::Continue
    }

    /// End of generation: releases what was held back.
    pub fn finish(&mut self, out: &mut String) {
        out.push_str(&self.pending);
        self.pending.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(stops: &[&str], pieces: &[&str]) -> (String, bool) {
        let stops: Vec<String> = stops.iter().map(|s| s.to_string()).collect();
        let mut m = StopMatcher::new(&stops);
        let mut out = String::new();
        for p in pieces {
            if m.push(p, &mut out) == StopState::Stopped {
                return (out, true);
            }
        }
        m.finish(&mut out);
        (out, false)
    }

    #[test]
    fn stop_split_across_pieces_never_leaks() {
        let stops = ["User:"];
        let mut m = StopMatcher::new(&stops.map(String::from));
        let mut out = String::new();
        assert_eq!(m.push("Hello Us", &mut out), StopState::Continue);
        assert_eq!(out, "Hello ", "the possible prefix 'Us' is held back");
        assert_eq!(m.push("er: more", &mut out), StopState::Stopped);
        assert_eq!(out, "Hello ");
    }

    #[test]
    fn false_prefix_is_released() {
        assert_eq!(
            run(&["User:"], &["a Us", "eful"]),
            ("a Useful".into(), false)
        );
    }

    #[test]
    fn earliest_of_several_stops_wins() {
        assert_eq!(run(&["END", "x"], &["abxcdEND"]), ("ab".into(), true));
    }

    #[test]
    fn no_stops_passes_through() {
        assert_eq!(run(&[], &["a", "b"]), ("ab".into(), false));
    }

    #[test]
    fn multibyte_text_is_cut_on_char_boundaries() {
        assert_eq!(
            run(&["né!"], &["olá n", "é", "?"]),
            ("olá né?".into(), false)
        );
        assert_eq!(run(&["né!"], &["olá n", "é", "!"]), ("olá ".into(), true));
    }
}
