//! edgellm-gguf
