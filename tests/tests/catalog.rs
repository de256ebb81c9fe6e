//! Catalog reads carry what an edge needs to cache and purge them.

use reqwest::StatusCode;
use vitrine_tests::{Origin, both_backends};

async fn product_page_is_cacheable_and_tagged(o: &Origin) {
    let id = o
        .product(&["tools", "power-tools", "drills"], "Cordless Drill", 149_999, 7)
        .await;
    let a = o.get(&format!("/api/v1/products/{id}")).await;
    assert_eq!(a.status, StatusCode::OK, "{:?}", a.body);
    assert_eq!(a.body["id"], id.to_string());
    assert_eq!(a.body["price"]["amount_minor"], 149_999);
    assert_eq!(a.body["price"]["currency"], "ZAR");
    assert_eq!(
        a.body["category_path"],
        serde_json::json!(["tools", "power-tools", "drills"])
    );
    let cc = a.header("cache-control");
    for part in [
        "public",
        "s-maxage=300",
        "stale-while-revalidate=60",
        "stale-if-error=86400",
    ] {
        assert!(cc.contains(part), "cache-control `{cc}` lacks {part}");
    }
    let keys: Vec<&str> = a.header("surrogate-key").split(' ').collect();
    assert!(keys.contains(&format!("product:{id}").as_str()), "{keys:?}");
    assert!(keys.contains(&"category:drills"), "{keys:?}");
    let etag = a.header("etag").to_owned();
    assert!(etag.starts_with('"') && etag.len() > 10, "etag {etag}");

    // The client already holds it: 304 with the same validators, no body.
    let again = o
        .send(
            reqwest::Method::GET,
            &format!("/api/v1/products/{id}"),
            None,
            None,
            &[("if-none-match", &etag)],
        )
        .await;
    assert_eq!(again.status, StatusCode::NOT_MODIFIED);
    assert_eq!(again.header("etag"), etag);
    assert!(again.raw.is_empty());

    // A change makes a new ETag.
    vitrine_origin::catalog::edit_product(&o.state.db, id, vitrine_origin::catalog::ProductEdit::Stock(3), None)
        .await
        .unwrap();
    let changed = o.get(&format!("/api/v1/products/{id}")).await;
    assert_ne!(changed.header("etag"), etag);
    assert_eq!(changed.body["stock"], 3);
    assert_eq!(changed.body["version"], 2);
}
both_backends!(product_page, product_page_is_cacheable_and_tagged);

async fn bad_and_unknown_ids_are_4xx(o: &Origin) {
    let bad = o.get("/api/v1/products/not-a-uuid").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.error_code(), "invalid_path");
    let missing = o.get(&format!("/api/v1/products/{}", uuid::Uuid::new_v4())).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.error_code(), "not_found");
    let injection = o.get("/api/v1/products/1%27%20OR%20%271%27=%271").await;
    assert_eq!(injection.status, StatusCode::BAD_REQUEST);
    let route = o.get("/api/v1/nothing-here").await;
    assert_eq!(route.status, StatusCode::NOT_FOUND);
    assert_eq!(route.error_code(), "not_found");
}
both_backends!(bad_ids, bad_and_unknown_ids_are_4xx);

async fn listings_cover_the_subtree_sort_and_page(o: &Origin) {
    let a = o
        .product(&["paint", "interior-paint"], "Matt White 5L", 59_999, 10)
        .await;
    let b = o.product(&["paint", "interior-paint"], "Silk Grey 1L", 19_999, 0).await;
    let c = o
        .product(&["paint", "exterior-paint"], "Weatherguard 5L", 89_999, 4)
        .await;
    let other = o.product(&["paint-accessories"], "Roller", 9_999, 4).await;

    let all = o.get("/api/v1/categories/paint/products?sort=price_asc").await;
    assert_eq!(all.status, StatusCode::OK, "{:?}", all.body);
    assert_eq!(all.body["total"], 3);
    let ids: Vec<&str> = all.body["products"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![b.to_string(), a.to_string(), c.to_string()]);
    assert!(
        !ids.contains(&other.to_string().as_str()),
        "a sibling with a shared prefix leaked in"
    );
    assert_eq!(all.body["products"][0]["in_stock"], false);
    let keys = all.header("surrogate-key");
    assert!(keys.contains("category:paint"), "{keys}");
    assert!(keys.contains("listing:paint"), "{keys}");
    for id in [a, b, c] {
        assert!(keys.contains(&format!("product:{id}")), "{keys} lacks {id}");
    }

    let desc = o
        .get("/api/v1/categories/paint/products?sort=price_desc&per_page=1&page=2")
        .await;
    assert_eq!(desc.body["products"].as_array().unwrap().len(), 1);
    assert_eq!(desc.body["products"][0]["id"], a.to_string());
    assert_eq!(desc.body["page"], 2);

    let by_name = o.get("/api/v1/categories/paint/products?sort=name").await;
    let names: Vec<&str> = by_name.body["products"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["Matt White 5L", "Silk Grey 1L", "Weatherguard 5L"]);
    let newest = o.get("/api/v1/categories/paint/products?sort=newest").await;
    assert_eq!(
        newest.body["products"][0]["id"],
        c.to_string(),
        "the last added comes first"
    );
    let popular = o.get("/api/v1/categories/paint/products?per_page=2&page=2").await;
    assert_eq!(popular.body["products"].as_array().unwrap().len(), 1);

    let leaf = o.get("/api/v1/categories/exterior-paint/products").await;
    assert_eq!(leaf.body["total"], 1);

    for bad in [
        "per_page=0",
        "per_page=101",
        "page=0",
        "sort=cheapest",
        "page=-1",
        "unknown=1",
    ] {
        let r = o.get(&format!("/api/v1/categories/paint/products?{bad}")).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}: {:?}", r.body);
    }
    let missing = o.get("/api/v1/categories/no-such-thing/products").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let injection = o.get("/api/v1/categories/paint'%20OR%201=1--/products").await;
    assert_eq!(injection.status, StatusCode::NOT_FOUND);
}
both_backends!(listings, listings_cover_the_subtree_sort_and_page);

async fn category_tree_nests_children(o: &Origin) {
    o.category(&["garden", "hoses"]).await;
    o.category(&["garden", "lawn-mowers"]).await;
    o.category(&["bathroom"]).await;
    let a = o.get("/api/v1/categories").await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(a.header("surrogate-key").contains("categories"));
    let roots = a.body["categories"].as_array().unwrap();
    let garden = roots.iter().find(|c| c["slug"] == "garden").expect("garden root");
    let children: Vec<&str> = garden["children"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["slug"].as_str().unwrap())
        .collect();
    assert_eq!(children.len(), 2);
    assert!(children.contains(&"hoses") && children.contains(&"lawn-mowers"));
    assert!(roots.iter().any(|c| c["slug"] == "bathroom"));
    assert!(!roots.iter().any(|c| c["slug"] == "hoses"), "children are not roots");
}
both_backends!(category_tree, category_tree_nests_children);
