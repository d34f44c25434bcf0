//! edgellm-kv
