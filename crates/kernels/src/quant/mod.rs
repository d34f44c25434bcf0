//! quant types
