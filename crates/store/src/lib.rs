//! edgellm-store
