//! Entry point of the browser app: mount only; everything else is in the library.

fn main() {
    dashboard::start();
}
