//! edgellm-engine
