//! edgellm-tokenizer
