pub mod jenkins;
