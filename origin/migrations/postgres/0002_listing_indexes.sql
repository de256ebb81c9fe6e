-- Covering indexes for the remaining listing orders, so every sort finds a
-- page of ids from an index alone (see catalog::listing_sql).
CREATE INDEX products_by_category_name ON products (category_path, name, id);
CREATE INDEX products_by_category_created ON products (category_path, created_at DESC, id);
