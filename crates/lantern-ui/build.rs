//! Rebuilds the crate when the built UI (`ui/dist`) changes, so a fresh `npm run build`
//! reaches the binary (new, content-hashed file names included).

fn main() {
    println!("cargo:rerun-if-changed=../../ui/dist");
}
