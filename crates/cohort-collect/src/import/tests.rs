//! Fixture imports into [`MemoryStore`]: every format, mapping defaults,
//! rejections, strict mode, re-imports.

use std::path::{Path, PathBuf};

use chrono::{TimeZone, Utc};
use cohort_model::{
    Event, EventId, EventName, Money, Order, OrderId, OrderKind, OrderLine, PersonId, Platform, ProductId, UserId,
};
use cohort_store::{EventStore, MemoryStore, StoreStats};
use serde_json::json;

use super::*;

fn opts() -> ImportOptions {
    ImportOptions { now: Some(Utc.with_ymd_and_hms(2025, 6, 1, 0, 0, 0).unwrap()), ..ImportOptions::default() }
}

fn write(dir: &Path, name: &str, content: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, content).unwrap();
    path
}

fn generic(path: &Path, kind: RecordKind) -> Source {
    Source::generic(path, kind, ColumnMapping::new()).unwrap()
}

fn import(store: &MemoryStore, source: &Source, path: &Path, opts: &ImportOptions) -> ImportReport {
    match import_file(store, source, path, opts, &NoProgress).unwrap() {
        ImportOutcome::Imported(report) => report,
        other => panic!("expected an import, got {other:?}"),
    }
}

fn events(store: &MemoryStore) -> Vec<Event> {
    let mut all = Vec::new();
    store
        .scan_histories(&mut |h| {
            all.extend(h.events);
            Ok(())
        })
        .unwrap();
    all.sort_by(|a, b| a.id.cmp(&b.id));
    all
}

fn event_by_id(store: &MemoryStore, id: &str) -> Event {
    events(store).into_iter().find(|e| e.id.as_str() == id).unwrap_or_else(|| panic!("no event {id}"))
}

const EVENTS_CSV: &str = "\
id,person_id,user_id,anonymous_id,event,timestamp,platform,channel,product_id,category,price,quantity,order_id,revenue,discount,coupon,query,rating,review_body,properties
e1,,u1,a1,Product Viewed,2025-05-18T12:34:56Z,app,wechat,p1,snacks,19.90,,,,,,,,,\"{\"\"colour\"\":\"\"红色\"\"}\"
e2,,u1,,Order Completed,2025-05-18 20:40:00,mini_program,,,,,,o1,59.70,5.00,SPRING,,,,
,,,a2,Products Searched,1747571696,web,,,,,,,,,,猫粮,,,
e4,p-9,u1,,Product Reviewed,2025-05-19T08:00:00+08:00,app,,p1,,,,,,,,,5,很好吃,
";

#[test]
fn native_events_csv_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "events.csv", EVENTS_CSV);
    let store = MemoryStore::new();
    let report = import(&store, &generic(&path, RecordKind::Events), &path, &opts());
    assert_eq!((report.rows_read, report.rows_rejected, report.prices_rounded), (4, 0, 0));
    assert_eq!(report.record.summary.events_new, 4);
    assert_eq!(report.record.source.kind, "csv");
    assert_eq!(report.record.source.checksum.as_deref().map(str::len), Some(64));

    let mut viewed = Event::new(
        EventId::new("e1").unwrap(),
        Some(PersonId::new("u1").unwrap()),
        EventName::ProductViewed,
        Utc.with_ymd_and_hms(2025, 5, 18, 12, 34, 56).unwrap(),
    );
    viewed.user_id = Some(UserId::new("u1").unwrap());
    viewed.anonymous_id = Some(cohort_model::AnonymousId::new("a1").unwrap());
    viewed.platform = Some(Platform::App);
    viewed.channel = Some("wechat".into());
    viewed.product_id = Some(ProductId::new("p1").unwrap());
    viewed.category = Some("snacks".into());
    viewed.price = Some(Money::from_fen(1990));
    viewed.properties.insert("colour".into(), json!("红色"));
    assert_eq!(event_by_id(&store, "e1"), viewed);

    // Naive timestamps are shop time (Asia/Shanghai by default).
    let completed = event_by_id(&store, "e2");
    assert_eq!(completed.timestamp, Utc.with_ymd_and_hms(2025, 5, 18, 12, 40, 0).unwrap());
    assert_eq!(completed.platform, Some(Platform::MiniProgram));
    assert_eq!(completed.order_id, Some(OrderId::new("o1").unwrap()));
    assert_eq!((completed.revenue, completed.discount), (Some(Money::from_fen(5970)), Some(Money::from_fen(500))));
    assert_eq!(completed.coupon.as_deref(), Some("SPRING"));

    // No id column value: `{checksum16}:{line}`; anonymous visitor as person.
    let checksum = report.record.source.checksum.unwrap();
    let searched = event_by_id(&store, &format!("{}:4", &checksum[..16]));
    assert_eq!(searched.person_id, Some(PersonId::new("a2").unwrap()));
    assert_eq!(searched.query.as_deref(), Some("猫粮"));
    assert_eq!(searched.timestamp, Utc.with_ymd_and_hms(2025, 5, 18, 12, 34, 56).unwrap());

    // An explicit person id wins over the user id.
    let reviewed = event_by_id(&store, "e4");
    assert_eq!(reviewed.person_id, Some(PersonId::new("p-9").unwrap()));
    assert_eq!((reviewed.rating, reviewed.review_body.as_deref()), (Some(5), Some("很好吃")));
    assert_eq!(reviewed.timestamp, Utc.with_ymd_and_hms(2025, 5, 19, 0, 0, 0).unwrap());
}

const ORDERS_CSV: &str = "\
order_id,kind,person_id,user_id,anonymous_id,placed_at,platform,channel,total,discount,shipping,coupon,refund_of,line_no,product_id,quantity,unit_price,category,store
o1,purchase,,u1,,2025-05-18T12:40:00Z,mini_program,wechat,,5.00,0.00,SPRING,,,p1,2,19.90,snacks,hz-01
r1,refund,,u1,,2025-05-20T09:00:00Z,app,,19.90,,,,o1,1,p1,1,19.90,snacks,
o1,purchase,,u1,,2025-05-18T12:40:00Z,mini_program,wechat,,5.00,0.00,SPRING,,,p2,1,24.90,snacks,hz-01
g1,,,,,2025-05-21T09:00:00Z,web,,,,3.00,,,,p3,1,9.99,,
";

#[test]
fn native_orders_csv_groups_lines_into_orders() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "orders.csv", ORDERS_CSV);
    let store = MemoryStore::new();
    let report = import(&store, &generic(&path, RecordKind::Orders), &path, &opts());
    assert_eq!((report.rows_read, report.rows_rejected), (4, 0));
    assert_eq!((report.record.summary.orders_new, report.record.summary.lines_new), (3, 4));

    let history = store.history(&PersonId::new("u1").unwrap()).unwrap().unwrap();
    let o1 = &history.orders[0];
    let line = |line_no, product: &str, quantity, fen| OrderLine {
        line_no,
        product_id: ProductId::new(product).unwrap(),
        quantity,
        unit_price: Money::from_fen(fen),
        category: Some("snacks".into()),
    };
    let expected = Order {
        id: OrderId::new("o1").unwrap(),
        kind: OrderKind::Purchase,
        person_id: Some(PersonId::new("u1").unwrap()),
        user_id: Some(UserId::new("u1").unwrap()),
        anonymous_id: None,
        placed_at: Utc.with_ymd_and_hms(2025, 5, 18, 12, 40, 0).unwrap(),
        platform: Some(Platform::MiniProgram),
        channel: Some("wechat".into()),
        total: Money::from_fen(2 * 1990 + 2490 - 500),
        discount: Money::from_fen(500),
        shipping: Money::ZERO,
        coupon: Some("SPRING".into()),
        refund_of: None,
        properties: [("store".to_string(), json!("hz-01"))].into_iter().collect(),
        lines: vec![line(1, "p1", 2, 1990), line(2, "p2", 1, 2490)],
    };
    assert_eq!(o1, &expected);
    let r1 = &history.orders[1];
    assert_eq!(
        (r1.kind, r1.total, r1.refund_of.as_ref().map(OrderId::as_str)),
        (OrderKind::Refund, Money::from_fen(1990), Some("o1"))
    );

    // A guest order is stored without a person; total = lines + shipping.
    assert_eq!(store.stats().unwrap().persons, 1);
    assert_eq!(store.stats().unwrap().orders, 3);
}

#[test]
fn users_and_products_csv() {
    let dir = tempfile::tempdir().unwrap();
    let users = write(
        dir.path(),
        "users.tsv",
        "user_id\tregistered_at\tplatform\tbirthday\tcity\tphone\tvip_level\nu1\t2024-01-02 10:00:00\tapp\t1990-02-03\t杭州\t13800138000\tgold\n",
    );
    let products = write(
        dir.path(),
        "products.csv",
        "product_id,name,category,price,brand,launched_at,consumable,in_stock\np1,猫粮 2kg,pet_food,89.00,Acme,2025-01-01,true,\n",
    );
    let store = MemoryStore::new();
    import(&store, &generic(&users, RecordKind::Users), &users, &opts());
    import(&store, &generic(&products, RecordKind::Products), &products, &opts());
    let user = store.history(&PersonId::new("u1").unwrap()).unwrap().unwrap().user.unwrap();
    assert_eq!(user.registered_at, Some(Utc.with_ymd_and_hms(2024, 1, 2, 2, 0, 0).unwrap()));
    assert_eq!(user.birthday, chrono::NaiveDate::from_ymd_opt(1990, 2, 3));
    assert_eq!((user.city.as_deref(), user.platform), (Some("杭州"), Some(Platform::App)));
    assert_eq!(user.traits.get("vip_level"), Some(&json!("gold")));
    let product = &store.products().unwrap()[0];
    assert_eq!((product.name.as_deref(), product.price), (Some("猫粮 2kg"), Some(Money::from_fen(8900))));
    assert!(product.consumable && product.in_stock);
}

const SEGMENT: &str = r#"{"type":"track","event":"Product Viewed","messageId":"m1","userId":"u9","anonymousId":"anon9","timestamp":"2025-05-18T12:00:00.000Z","context":{"channel":"douyin","ip":"1.2.3.4"},"properties":{"product_id":"p1","price":19.9,"category":"snacks","colour":"red"},"channel":"server","sentAt":"2025-05-18T12:00:01.000Z"}

{"type":"page","name":"Home","messageId":"m2","anonymousId":"anon9","timestamp":"2025-05-18T12:01:00Z","properties":{"path":"/"}}
{"type":"track","event":"Order Completed","messageId":"m3","userId":"u9","timestamp":"2025-05-18T12:05:00Z","properties":{"order_id":"o9","revenue":"59.70","discount":5,"coupon":"X","products":[{"product_id":"p1"}]}}
{"type":"identify","messageId":"m4","userId":"u9","traits":{"city":"Hangzhou"},"timestamp":"2025-05-18T12:06:00Z"}
not json
"#;

#[test]
fn segment_ndjson_messages_need_no_mapping() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "segment.jsonl", SEGMENT);
    let store = MemoryStore::new();
    let report = import(&store, &generic(&path, RecordKind::Events), &path, &opts());
    assert_eq!((report.rows_read, report.rows_rejected, report.record.summary.events_new), (5, 2, 3));
    let reasons: Vec<(u64, &str)> = report.first_errors.iter().map(|r| (r.line, r.reason.as_str())).collect();
    assert_eq!(reasons[0].0, 5);
    assert!(reasons[0].1.contains("\"identify\""), "{reasons:?}");
    assert_eq!(reasons[1].0, 6);
    assert!(reasons[1].1.starts_with("invalid JSON"), "{reasons:?}");

    let viewed = event_by_id(&store, "m1");
    assert_eq!(viewed.person_id, Some(PersonId::new("u9").unwrap()));
    assert_eq!(viewed.anonymous_id.as_ref().map(|a| a.as_str()), Some("anon9"));
    assert_eq!((viewed.price, viewed.category.as_deref()), (Some(Money::from_fen(1990)), Some("snacks")));
    assert_eq!(viewed.channel.as_deref(), Some("douyin"));
    assert_eq!(viewed.properties, json!({"colour": "red"}).as_object().unwrap().clone());

    let page = event_by_id(&store, "m2");
    assert_eq!((page.name, page.person_id), (EventName::PageViewed, Some(PersonId::new("anon9").unwrap())));
    assert_eq!(page.properties, json!({"path": "/", "name": "Home"}).as_object().unwrap().clone());

    let completed = event_by_id(&store, "m3");
    assert_eq!(completed.order_id, Some(OrderId::new("o9").unwrap()));
    assert_eq!((completed.revenue, completed.discount), (Some(Money::from_fen(5970)), Some(Money::from_fen(500))));
    assert_eq!(completed.properties["products"], json!([{"product_id": "p1"}]));
}

#[test]
fn json_array_of_segment_identify_calls_as_users() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "users.json",
        r#"
[{"type":"identify","messageId":"i1","userId":"u1","timestamp":"2025-05-01T00:00:00Z",
  "traits":{"city":"杭州","createdAt":"2024-01-02T00:00:00Z","vip":"gold","phone":"13800138000"}},
 {"type":"identify","messageId":"i2","traits":{"city":"无名"}}]"#,
    );
    let store = MemoryStore::new();
    let report = import(&store, &generic(&path, RecordKind::Users), &path, &opts());
    assert_eq!((report.rows_read, report.rows_rejected), (2, 1));
    assert_eq!(report.first_errors[0].line, 2, "JSON arrays count records");
    assert!(report.first_errors[0].reason.contains("missing user id"), "{:?}", report.first_errors);
    let user = store.history(&PersonId::new("u1").unwrap()).unwrap().unwrap().user.unwrap();
    assert_eq!(user.city.as_deref(), Some("杭州"));
    assert_eq!(user.phone.as_deref(), Some("13800138000"));
    assert_eq!(user.registered_at, Some(Utc.with_ymd_and_hms(2024, 1, 2, 0, 0, 0).unwrap()));
    assert_eq!(user.traits, json!({"vip": "gold"}).as_object().unwrap().clone());
}

#[test]
fn explicit_mapping_headerless_csv_and_fen() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "clicks.txt.csv", "7,view_item,1747571696,1990\n8,add_to_cart,1747571697000,2490\n");
    let mapping =
        ColumnMapping::parse_pairs(RecordKind::Events, ["user_id=1", "event=2", "timestamp=3", "price=4"]).unwrap();
    let source = Source::Generic {
        format: SourceFormat::Csv { delimiter: b',', has_header: false },
        kind: RecordKind::Events,
        mapping,
    };
    let store = MemoryStore::new();
    let report = import(&store, &source, &path, &ImportOptions { money_unit: MoneyUnit::Fen, ..opts() });
    assert_eq!((report.rows_read, report.rows_rejected), (2, 0));
    let all = events(&store);
    assert_eq!(all[0].name, EventName::Custom("view_item".into()));
    assert_eq!(all[0].price, Some(Money::from_fen(1990)));
    assert_eq!(all[1].name, EventName::ProductAdded);
    assert_eq!(all[1].timestamp.timestamp_millis(), 1_747_571_697_000);
}

#[test]
fn missing_columns_are_reported_before_reading() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "e.csv", "user_id,timestamp\nu1,2025-05-01\n");
    let store = MemoryStore::new();
    let err = import_file(&store, &generic(&path, RecordKind::Events), &path, &opts(), &NoProgress).unwrap_err();
    assert!(err.to_string().contains("no column \"event\" for field event"), "{err}");
    let mapping = ColumnMapping::parse_pairs(RecordKind::Events, ["event=action"]).unwrap();
    let source = Source::Generic { format: SourceFormat::CSV, kind: RecordKind::Events, mapping };
    let err = import_file(&store, &source, &path, &opts(), &NoProgress).unwrap_err();
    assert!(
        err.to_string().contains("no column \"action\" for field event (columns in the file: \"user_id\""),
        "{err}"
    );
    assert!(store.imports().unwrap().is_empty());
}

fn write_parquet(path: &Path) {
    use ::parquet::data_type::{ByteArray, ByteArrayType, DoubleType, Int64Type};
    use ::parquet::file::properties::WriterProperties;
    use ::parquet::file::writer::SerializedFileWriter;
    use std::sync::Arc;

    let schema = "message events {
        REQUIRED BYTE_ARRAY id (UTF8);
        REQUIRED BYTE_ARRAY user_id (UTF8);
        REQUIRED BYTE_ARRAY event (UTF8);
        REQUIRED INT64 timestamp (TIMESTAMP(MILLIS,true));
        REQUIRED DOUBLE price;
        OPTIONAL BYTE_ARRAY coupon (UTF8);
        REQUIRED GROUP properties { REQUIRED BYTE_ARRAY colour (UTF8); }
    }";
    let schema = Arc::new(::parquet::schema::parser::parse_message_type(schema).unwrap());
    let file = std::fs::File::create(path).unwrap();
    let mut writer = SerializedFileWriter::new(file, schema, Arc::new(WriterProperties::builder().build())).unwrap();
    let mut group = writer.next_row_group().unwrap();
    let strings = |v: &[&str]| v.iter().map(|s| ByteArray::from(*s)).collect::<Vec<_>>();
    let mut index = 0;
    while let Some(mut column) = group.next_column().unwrap() {
        match index {
            0 => column.typed::<ByteArrayType>().write_batch(&strings(&["q1", "q2"]), None, None),
            1 => column.typed::<ByteArrayType>().write_batch(&strings(&["u1", "u2"]), None, None),
            2 => column.typed::<ByteArrayType>().write_batch(&strings(&["Product Added", "Checked In"]), None, None),
            3 => column.typed::<Int64Type>().write_batch(&[1_747_571_696_000, 1_747_571_700_500], None, None),
            4 => column.typed::<DoubleType>().write_batch(&[19.9, 0.125], None, None),
            5 => column.typed::<ByteArrayType>().write_batch(&strings(&["SPRING"]), Some(&[1, 0]), None),
            _ => column.typed::<ByteArrayType>().write_batch(&strings(&["红色", "blue"]), None, None),
        }
        .unwrap();
        column.close().unwrap();
        index += 1;
    }
    group.close().unwrap();
    writer.close().unwrap();
}

#[test]
fn parquet_rows_import_like_json_objects() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.parquet");
    write_parquet(&path);
    let store = MemoryStore::new();
    let report = import(&store, &generic(&path, RecordKind::Events), &path, &opts());
    assert_eq!((report.rows_read, report.rows_rejected, report.prices_rounded), (2, 0, 1));
    assert_eq!(report.record.source.kind, "parquet");
    let added = event_by_id(&store, "q1");
    assert_eq!(added.name, EventName::ProductAdded);
    assert_eq!(added.timestamp, Utc.with_ymd_and_hms(2025, 5, 18, 12, 34, 56).unwrap());
    assert_eq!((added.price, added.coupon.as_deref()), (Some(Money::from_fen(1990)), Some("SPRING")));
    assert_eq!(added.properties, json!({"colour": "红色"}).as_object().unwrap().clone());
    let checked = event_by_id(&store, "q2");
    assert_eq!((checked.name, checked.coupon, checked.price), (EventName::CheckedIn, None, Some(Money::from_fen(13))));
    assert_eq!(checked.timestamp.timestamp_millis(), 1_747_571_700_500);
}

const BAD_EVENTS: &str = "\
id,user_id,event,timestamp,price
b1,u1,Product Viewed,2025-05-18T12:00:00Z,19.90
b2,u1,Product Viewed,2025-05-18T12:01:00Z,abc
b3,u1,Product Viewed
b4,,Product Viewed,2025-05-18T12:03:00Z,1
b5,u2,Product Viewed,1999-01-01T00:00:00Z,1
b6,u2,Product Viewed,2025-05-18T12:05:00Z,0.001
";

#[test]
fn bad_rows_are_recorded_not_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "bad.csv", BAD_EVENTS);
    let store = MemoryStore::new();
    let report = import(&store, &generic(&path, RecordKind::Events), &path, &opts());
    assert_eq!((report.rows_read, report.rows_rejected, report.prices_rounded), (6, 4, 1));
    assert_eq!(report.record.summary.events_new, 2);
    assert_eq!(report.record.summary.rows_rejected, 4);
    let stored = store.rejected_rows(10).unwrap();
    assert_eq!(stored, report.first_errors);
    let file = path.display().to_string();
    assert_eq!(stored[0].file, file);
    assert_eq!(stored[0].line, 3);
    assert_eq!(stored[0].reason, "column \"price\": invalid money amount \"abc\": not a decimal number");
    assert_eq!(stored[0].raw, "b2,u1,Product Viewed,2025-05-18T12:01:00Z,abc");
    assert_eq!((stored[1].line, stored[1].reason.as_str()), (4, "expected 5 columns, found 3"));
    assert_eq!(stored[2].line, 5);
    assert!(stored[2].reason.contains("missing person"), "{}", stored[2].reason);
    assert_eq!(stored[3].reason, "column \"timestamp\": timestamp \"1999-01-01T00:00:00Z\" is before 2000-01-01");
}

#[test]
fn strict_mode_stops_at_the_first_bad_row_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "bad.csv", BAD_EVENTS);
    let store = MemoryStore::new();
    let strict = ImportOptions { strict: true, batch_rows: 1, ..opts() };
    let err = import_file(&store, &generic(&path, RecordKind::Events), &path, &strict, &NoProgress).unwrap_err();
    match &err {
        ImportError::BadRow { file, line, reason } => {
            assert_eq!((file.as_str(), *line), (path.display().to_string().as_str(), 3));
            assert!(reason.contains("\"abc\""), "{reason}");
        }
        other => panic!("expected a bad row, got {other:?}"),
    }
    assert_eq!(store.stats().unwrap(), StoreStats::default());
    assert!(store.imports().unwrap().is_empty());
    assert!(store.rejected_rows(10).unwrap().is_empty());
}

#[test]
fn reimports_are_recognised_and_forced_ones_add_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let events_path = write(dir.path(), "events.csv", EVENTS_CSV);
    let orders_path = write(dir.path(), "orders.csv", ORDERS_CSV);
    let store = MemoryStore::new();
    let events_source = generic(&events_path, RecordKind::Events);
    let orders_source = generic(&orders_path, RecordKind::Orders);
    let first = import(&store, &events_source, &events_path, &opts());
    import(&store, &orders_source, &orders_path, &opts());
    let before = store.stats().unwrap();

    match import_file(&store, &events_source, &events_path, &opts(), &NoProgress).unwrap() {
        ImportOutcome::AlreadyImported(record) => assert_eq!(record, first.record),
        other => panic!("expected already imported, got {other:?}"),
    }
    let force = ImportOptions { force: true, ..opts() };
    let again = import(&store, &events_source, &events_path, &force);
    assert_eq!((again.record.summary.events_new, again.record.summary.events_duplicate), (0, 4));
    let again = import(&store, &orders_source, &orders_path, &force);
    assert_eq!((again.record.summary.orders_new, again.record.summary.lines_new), (0, 0));
    assert_eq!(again.record.summary.orders_duplicate, 3);
    assert_eq!(store.stats().unwrap(), before);
}

#[test]
fn gzip_files_and_progress() {
    use std::cell::Cell;
    use std::io::Write;

    #[derive(Default)]
    struct Recorder {
        total: Cell<u64>,
        last: Cell<(u64, u64)>,
        finished: Cell<bool>,
    }
    impl ImportProgress for Recorder {
        fn start(&self, total_bytes: u64) {
            self.total.set(total_bytes);
        }
        fn advance(&self, bytes_done: u64, rows_done: u64) {
            self.last.set((bytes_done, rows_done));
        }
        fn finish(&self) {
            self.finished.set(true);
        }
    }

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.csv.gz");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(EVENTS_CSV.as_bytes()).unwrap();
    let bytes = gz.finish().unwrap();
    std::fs::write(&path, &bytes).unwrap();
    let store = MemoryStore::new();
    let recorder = Recorder::default();
    let source = generic(&path, RecordKind::Events);
    let ImportOutcome::Imported(report) = import_file(&store, &source, &path, &opts(), &recorder).unwrap() else {
        panic!("not imported");
    };
    assert_eq!(report.record.summary.events_new, 4);
    assert_eq!(recorder.total.get(), bytes.len() as u64);
    assert_eq!(recorder.last.get(), (bytes.len() as u64, 4));
    assert!(recorder.finished.get());
}

#[test]
fn native_files_written_by_the_generator_import_unchanged() {
    use cohort_model::{Batch, Product, User};
    use cohort_store::conformance::{event, order};

    let at = |d, h| Utc.with_ymd_and_hms(2025, 5, d, h, 0, 0).unwrap();
    let mut viewed = event("e1", "alice", EventName::ProductViewed, at(2, 9));
    viewed.product_id = Some(ProductId::new("p1").unwrap());
    viewed.price = Some(Money::from_fen(1990));
    viewed.channel = Some("小红书".into());
    viewed.properties.insert("colour".into(), json!("红色"));
    let mut reviewed = event("e2", "alice", EventName::ProductReviewed, at(3, 9));
    reviewed.rating = Some(4);
    reviewed.review_body = Some("包装很好, \"推荐\"\n第二行".into());
    let mut refund = order("r1", Some("alice"), at(4, 10), &[("p1", 1, 1990)]);
    refund.kind = OrderKind::Refund;
    refund.refund_of = Some(OrderId::new("o1").unwrap());
    let mut discounted = order("o1", Some("alice"), at(2, 10), &[("p1", 2, 1990), ("p2", 1, 500)]);
    discounted.discount = Money::from_fen(300);
    discounted.shipping = Money::from_fen(800);
    discounted.total = Money::from_fen(2 * 1990 + 500 - 300 + 800);
    discounted.coupon = Some("SPRING".into());
    let mut user = User::new(UserId::new("alice").unwrap());
    user.registered_at = Some(at(1, 8));
    user.birthday = chrono::NaiveDate::from_ymd_opt(1995, 7, 1);
    user.phone = Some("13800138000".into());
    user.traits.insert("vip".into(), json!(2));
    let mut product = Product::new(ProductId::new("p1").unwrap());
    product.name = Some("猫粮, 2kg".into());
    product.category = Some("pet_food".into());
    product.price = Some(Money::from_fen(1990));
    product.launched_at = Some(at(1, 0));
    product.consumable = true;
    let batch = Batch {
        users: vec![user],
        products: vec![product],
        events: vec![viewed, reviewed],
        orders: vec![discounted, refund, order("g1", None, at(5, 10), &[("p2", 3, 500)])],
    };

    let dir = tempfile::tempdir().unwrap();
    let mut writer = crate::generate::NativeCsvWriter::create(dir.path()).unwrap();
    writer.write_batch(&batch).unwrap();
    writer.finish().unwrap();
    let store = MemoryStore::new();
    for (name, kind) in [
        ("users.csv", RecordKind::Users),
        ("products.csv", RecordKind::Products),
        ("events.csv", RecordKind::Events),
        ("orders.csv", RecordKind::Orders),
    ] {
        let path = dir.path().join(name);
        let report = import(&store, &generic(&path, kind), &path, &opts());
        assert_eq!(report.rows_rejected, 0, "{name}: {:?}", report.first_errors);
    }
    let history = store.history(&PersonId::new("alice").unwrap()).unwrap().unwrap();
    assert_eq!(history.user.as_ref(), Some(&batch.users[0]));
    assert_eq!(history.events, batch.events);
    assert_eq!(history.orders, vec![batch.orders[0].clone(), batch.orders[1].clone()]);
    assert_eq!(store.products().unwrap(), batch.products);
    assert_eq!(store.stats().unwrap().orders, 3);
}
