fn main() {
    std::process::exit(userns_e2e::cli::main());
}
