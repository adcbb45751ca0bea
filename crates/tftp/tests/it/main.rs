mod lossy;
mod scenarios;
