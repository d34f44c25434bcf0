pub mod bench;
pub mod inspect;
pub mod run;
pub mod tokenize;
