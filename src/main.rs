//! `connector`: everything it does starts in `connector::app`.

fn main() {
    connector::app::main()
}
