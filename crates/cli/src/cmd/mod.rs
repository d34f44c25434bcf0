pub mod bench;
pub mod charrnn;
pub mod inspect;
pub mod ps;
pub mod pull;
pub mod run;
pub mod serve;
pub mod tokenize;
