//! Any bytes as a recipe: reading never panics, every error names a place inside the text, and
//! a recipe that reads has a package id of the form `name-version-<16 hex>`, alone and with
//! its dependencies supplied by stub recipes (a cycle only when it depends on itself).
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use nanolin_host::recipe::{package_ids, Recipe, RecipeError, PACKAGE_HASH_HEX_LEN};

fn stub(name: &str) -> Recipe {
    let text = format!("name={name}\nversion=1\nrelease=1\nlicense=MIT\npackage() {{\n\t:\n}}\n");
    Recipe::parse(Path::new("stub.rcp"), text.as_bytes()).expect("a stub recipe reads")
}

fuzz_target!(|data: &[u8]| {
    let path = Path::new("fuzz.rcp");
    let recipe = match Recipe::parse(path, data) {
        Ok(recipe) => recipe,
        Err(e) => {
            let place = e.place().expect("a parse error has a place");
            let lines = data.iter().filter(|&&b| b == b'\n').count() + 1;
            assert!(place.position.line >= 1 && place.position.line as usize <= lines);
            assert!(place.position.column >= 1);
            assert!(e.to_string().starts_with("fuzz.rcp:"));
            return;
        }
    };
    let id = recipe.package_id([]);
    let prefix = format!("{}-{}-", recipe.name, recipe.version);
    let hash = id
        .as_str()
        .strip_prefix(&prefix)
        .expect("id starts with name-version-");
    assert_eq!(hash.len(), PACKAGE_HASH_HEX_LEN);
    assert!(hash.bytes().all(|c| c.is_ascii_hexdigit()));

    let alone = package_ids(std::slice::from_ref(&recipe));
    if recipe.dependencies().next().is_none() {
        assert_eq!(alone.expect("no dependencies")[&recipe.name], id);
        return;
    }
    assert!(matches!(
        alone,
        Err(RecipeError::MissingDependency { .. } | RecipeError::Cycle { .. })
    ));
    let mut set = vec![recipe.clone()];
    set.extend(
        recipe
            .dependencies()
            .filter(|d| *d != recipe.name)
            .map(stub),
    );
    match package_ids(&set) {
        Ok(ids) => assert_eq!(ids.len(), set.len()),
        Err(RecipeError::Cycle { cycle, .. }) => {
            assert!(recipe.dependencies().any(|d| d == recipe.name));
            assert_eq!(cycle, [recipe.name.clone(), recipe.name.clone()]);
        }
        Err(e) => panic!("{e}"),
    }
});
