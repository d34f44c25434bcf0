pub mod bench;
pub mod charrnn;
pub mod inspect;
pub mod pull;
pub mod run;
pub mod tokenize;
