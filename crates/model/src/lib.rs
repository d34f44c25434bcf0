//! edgellm-model
