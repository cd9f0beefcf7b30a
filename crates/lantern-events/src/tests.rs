use std::sync::Arc;

use arrow_array::{Array, BinaryArray, BooleanArray, Int64Array, StringArray};
use arrow_schema::{DataType, Field, Schema};

use super::*;

/// A small table: time, an ID (the sort column) and a text.
struct Notes;

#[derive(Debug, Clone, PartialEq)]
struct Note {
    t: i64,
    id: Vec<u8>,
    text: String,
}

impl Table for Notes {
    type Row = Note;
    const NAME: &'static str = "notes";
    const SIGNAL: &'static str = "notes";
    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("t", DataType::Int64, false),
            Field::new("id", DataType::Binary, false),
            Field::new("text", DataType::Utf8, false),
        ]))
    }
    fn time(r: &Note) -> i64 {
        r.t
    }
    fn order(a: &Note, b: &Note) -> std::cmp::Ordering {
        a.id.cmp(&b.id)
    }
    fn keys(r: &Note, out: &mut Vec<u64>) {
        out.push(bloom::key(&[b"id", &r.id]));
    }
    const FILTER_PAGE_ROWS: usize = 10;
    /// Parquet pages of 10 rows too, so a read of a few rows fetches a few pages.
    fn writer_props(
        props: parquet::file::properties::WriterPropertiesBuilder,
        _schema: &SchemaRef,
        _rows: &[&Note],
    ) -> parquet::file::properties::WriterPropertiesBuilder {
        props.set_data_page_row_count_limit(10).set_write_batch_size(10)
    }
    fn order_class(r: &Note) -> Option<usize> {
        r.id.iter().try_fold(0usize, |n, b| n.checked_mul(256)?.checked_add(usize::from(*b)))
    }
    fn encode_log(rows: &[Note], out: &mut Vec<u8>) {
        for r in rows {
            out.extend_from_slice(&r.t.to_le_bytes());
            out.push(r.id.len() as u8);
            out.extend_from_slice(&r.id);
            out.push(r.text.len() as u8);
            out.extend_from_slice(r.text.as_bytes());
        }
    }
    fn decode_log(mut b: &[u8]) -> Option<Vec<Note>> {
        let mut out = Vec::new();
        while !b.is_empty() {
            let t = i64::from_le_bytes(b.get(..8)?.try_into().ok()?);
            let n = *b.get(8)? as usize;
            let id = b.get(9..9 + n)?.to_vec();
            let m = *b.get(9 + n)? as usize;
            let text = String::from_utf8(b.get(10 + n..10 + n + m)?.to_vec()).ok()?;
            out.push(Note { t, id, text });
            b = &b[10 + n + m..];
        }
        Some(out)
    }
    fn to_batch(schema: &SchemaRef, rows: &[&Note]) -> std::result::Result<RecordBatch, String> {
        RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Int64Array::from_iter_values(rows.iter().map(|r| r.t))),
                Arc::new(BinaryArray::from_iter_values(rows.iter().map(|r| &r.id[..]))),
                Arc::new(StringArray::from_iter_values(rows.iter().map(|r| &r.text))),
            ],
        )
        .map_err(|e| e.to_string())
    }
    fn from_batch(b: &RecordBatch) -> std::result::Result<Vec<Note>, String> {
        let t = b.column(0).as_any().downcast_ref::<Int64Array>().ok_or("t")?;
        let id = b.column(1).as_any().downcast_ref::<BinaryArray>().ok_or("id")?;
        let text = b.column(2).as_any().downcast_ref::<StringArray>().ok_or("text")?;
        Ok((0..b.num_rows())
            .map(|i| Note { t: t.value(i), id: id.value(i).to_vec(), text: text.value(i).to_string() })
            .collect())
    }
    fn summarize(rows: &[&Note]) -> serde_json::Value {
        serde_json::json!({ "notes": rows.len() })
    }
}

fn note(t: i64, id: u32) -> Note {
    Note { t, id: id.to_be_bytes().to_vec(), text: format!("note {id} at {t}") }
}

async fn collect(s: &EventStore<Notes>, scan: &Scan) -> Vec<Note> {
    let mut out = Vec::new();
    s.scan(scan, |r| {
        out.push(r.clone());
        ControlFlow::Continue(())
    })
    .await
    .unwrap();
    out.sort_by_key(|n| (n.t, n.id.clone()));
    out
}

/// A new directory for a store of notes: the guard that removes it, the object store
/// of its sealed segments, and where its log goes.
fn fresh() -> (tempfile::TempDir, Store, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::local(&dir.path().join("data")).unwrap();
    let log = dir.path().join("log");
    (dir, store, log)
}

/// The store of notes logged in `log`, sealed into `store`.
async fn open(log: &Path, store: &Store, opts: Options) -> EventStore<Notes> {
    EventStore::<Notes>::open(log, store.clone(), opts).await.unwrap()
}

/// A prefilter keeping the rows whose ID `keep` takes (every row of a batch without
/// the ID column).
fn ids_where(keep: impl Fn(u32) -> bool + Send + Sync + 'static) -> RowFilter {
    RowFilter {
        dictionary: false,
        skip: None,
        key: None,
        columns: vec!["id".into()],
        cheap: None,
        test: Arc::new(move |b: &RecordBatch, _| {
            let col = b.column_by_name("id").and_then(|c| c.as_any().downcast_ref::<BinaryArray>().cloned());
            let id = |v: &[u8]| v.try_into().map(u32::from_be_bytes).is_ok_and(&keep);
            col.map_or_else(
                || BooleanArray::from(vec![true; b.num_rows()]),
                |col| col.iter().map(|v| v.map(id)).collect(),
            )
            .into()
        }),
    }
}

#[tokio::test]
async fn rows_survive_sealing_and_reopening_and_scans_skip_what_cannot_match() {
    let (_dir, store, log) = fresh();
    let opts = Options { row_group_rows: 100, ..Options::default() };
    let s = open(&log, &store, opts.clone()).await;
    let first: Vec<Note> = (0..1000).map(|i| note(1_000 + i as i64, i)).collect();
    s.append(first.clone()).unwrap();
    assert_eq!(collect(&s, &Scan::all()).await.len(), 1000);
    s.seal().await.unwrap();
    let second: Vec<Note> = (1000..1500).map(|i| note(5_000 + i as i64, i)).collect();
    s.append(second.clone()).unwrap();
    let st = s.stats();
    assert_eq!((st.head_rows, st.segments, st.sealed_rows), (500, 1, 1000));

    // By time: only the second batch.
    let got = collect(&s, &Scan { min_t: 5_000, max_t: i64::MAX, ..Scan::all() }).await;
    assert_eq!(got, second);
    // By key, with a prefilter on the ID column: one row, from the one row group whose
    // filter has the key (the visitor sees only what the prefilter kept).
    let want = note(1_000 + 777, 777);
    let filter = ids_where(|i| i == 777);
    let scan = Scan { keys: vec![bloom::key(&[b"id", &want.id])], filter: Some(filter), ..Scan::all() };
    let mut seen = Vec::new();
    s.scan(&scan, |r| {
        seen.push(r.clone());
        ControlFlow::Continue(())
    })
    .await
    .unwrap();
    // Sealed rows filtered; the batch in memory lacks the key, so none of its rows come.
    assert_eq!(seen, vec![want.clone()]);
    // A key nobody has: the segment and the batch in memory are skipped by their filters.
    let scan = Scan { keys: vec![bloom::key(&[b"id", b"nobody"])], ..Scan::all() };
    assert!(collect(&s, &scan).await.is_empty());
    // Stopping early.
    let mut n = 0;
    s.scan(&Scan::all(), |_| {
        n += 1;
        if n == 10 {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })
    .await
    .unwrap();
    assert_eq!(n, 10);
    assert_eq!(s.summaries(0, i64::MAX), vec![serde_json::json!({"notes": 1000})]);
    drop(s);

    // Reopen: the segment is loaded, the unsealed rows come back from the log, once.
    let s = open(&log, &store, opts.clone()).await;
    let mut all = first.clone();
    all.extend(second.clone());
    assert_eq!(collect(&s, &Scan::all()).await, all);
    s.seal().await.unwrap();
    drop(s);
    let s = open(&log, &store, opts.clone()).await;
    assert_eq!(collect(&s, &Scan::all()).await, all);
    assert_eq!(s.stats().segments, 2);
    drop(s);

    // Retention by size keeps the newest segment only.
    let small = Options { retention_bytes: Some(1), ..opts };
    let s = open(&log, &store, small).await;
    s.maintain().await.unwrap();
    assert_eq!(s.stats().segments, 0, "a limit below one segment's size drops them all");
}

#[tokio::test]
async fn retention_by_age_drops_old_segments_only() {
    let (_dir, store, log) = fresh();
    let opts = Options { retention_age: Some(std::time::Duration::from_secs(86_400)), ..Options::default() };
    let s = open(&log, &store, opts).await;
    // Rows from 1970, sealed; then rows from now, sealed.
    s.append(vec![note(1_000, 1), note(2_000, 2)]).unwrap();
    s.seal().await.unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as i64;
    s.append(vec![note(now, 3)]).unwrap();
    s.seal().await.unwrap();
    assert_eq!(s.stats().segments, 2);
    s.maintain().await.unwrap();
    assert_eq!(s.stats().segments, 1);
    assert_eq!(collect(&s, &Scan::all()).await, vec![note(now, 3)]);
    assert_eq!(store.list_dirs("notes").await.unwrap().len(), 1, "the old segment's files are gone");
}

#[tokio::test]
async fn retention_reads_the_stores_clock_so_a_test_can_move_time() {
    let (_dir, store, log) = fresh();
    let day = std::time::Duration::from_secs(86_400);
    let t0: i64 = 1_800_000_000_000_000_000;
    let clock = lantern_core::clock::ManualClock::new(t0);
    let opts = Options { retention_age: Some(day), clock: clock.clone(), ..Options::default() };
    let s = open(&log, &store, opts).await;
    s.append(vec![note(t0, 1)]).unwrap();
    s.seal().await.unwrap();
    clock.advance(day / 2);
    s.maintain().await.unwrap();
    assert_eq!(s.stats().segments, 1, "half a day later the segment is kept");
    clock.advance(day);
    s.maintain().await.unwrap();
    assert_eq!(s.stats().segments, 0, "a day and a half later it is gone");
}

#[tokio::test]
async fn a_half_written_segment_is_removed_and_its_rows_replayed() {
    let (_dir, store, log) = fresh();
    let s = open(&log, &store, Options::default()).await;
    s.append(vec![note(1, 1), note(2, 2)]).unwrap();
    drop(s);
    // A crash between the data file and the sidecar leaves a directory without meta.
    store.put("notes/00000000000000000001-000009/data.parquet", Bytes::from_static(b"partial")).await.unwrap();
    let s = open(&log, &store, Options::default()).await;
    assert_eq!(collect(&s, &Scan::all()).await, vec![note(1, 1), note(2, 2)]);
    assert!(!store.exists("notes/00000000000000000001-000009/data.parquet").await.unwrap());
}

use bytes::Bytes;

/// A filter on `id` keeping the rows of ID `want`, counting the rows whose ID it tests;
/// keyed when `keyed`. With `cheap`, given what its condition said before, it reads
/// only the time (it checks it has nothing else).
fn id_is(want: u32, keyed: bool, cheap: bool, tested: Arc<std::sync::atomic::AtomicUsize>) -> RowFilter {
    RowFilter {
        dictionary: false,
        skip: None,
        key: keyed.then(|| crate::condition_key(&format!("id {want}"))),
        columns: vec!["id".into(), "t".into()],
        cheap: cheap.then(|| vec!["t".to_string()]),
        test: Arc::new(move |b: &RecordBatch, known: Option<&crate::Met>| {
            if let Some(k) = known {
                assert!(cheap && b.num_columns() == 1 && b.column_by_name("t").is_some());
                return BooleanArray::from(k.rows.clone()).into();
            }
            tested.fetch_add(b.num_rows(), std::sync::atomic::Ordering::Relaxed);
            let col = b.column_by_name("id").and_then(|c| c.as_any().downcast_ref::<BinaryArray>().cloned());
            let keep: BooleanArray = match col {
                Some(col) => col.iter().map(|v| Some(v == Some(&want.to_be_bytes()[..]))).collect(),
                None => vec![true; b.num_rows()].into(),
            };
            let rows: Vec<bool> = keep.iter().map(|k| k == Some(true)).collect();
            let sure = vec![false; rows.len()];
            crate::Tested { keep, met: Some(crate::Met { rows, sure }) }
        }),
    }
}

#[tokio::test]
async fn row_groups_a_condition_found_nothing_in_are_not_read_again() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    for cache in [true, false] {
        let (_dir, store, log) = fresh();
        let opts = Options {
            row_group_rows: 100,
            condition_cache_bytes: if cache { 1 << 20 } else { 0 },
            ..Options::default()
        };
        let s = open(&log, &store, opts).await;
        // ID 7 is in the first row group only.
        s.append((0..1000).map(|i| note(1_000 + i as i64, i)).collect()).unwrap();
        s.seal().await.unwrap();
        let tested = Arc::new(AtomicUsize::new(0));
        let scan = |want, keyed| Scan { filter: Some(id_is(want, keyed, false, tested.clone())), ..Scan::all() };
        let times = |v: Vec<Note>| v.into_iter().map(|n| n.t).collect::<Vec<_>>();
        // The first scan tests every row; the groups without a match are remembered.
        assert_eq!(times(collect(&s, &scan(7, true)).await), vec![1_007]);
        assert_eq!(tested.swap(0, Ordering::Relaxed), 1000);
        // Again, and over a narrower time range: only the first group is read, and the
        // answer is the same.
        assert_eq!(times(collect(&s, &scan(7, true)).await), vec![1_007]);
        assert_eq!(tested.swap(0, Ordering::Relaxed), if cache { 100 } else { 1000 });
        // Without the cache, the rows of the pages (of 10 rows) in the range are: 51.
        let narrow = Scan { min_t: 1_000, max_t: 1_500, ..scan(7, true) };
        assert_eq!(times(collect(&s, &narrow).await), vec![1_007]);
        assert_eq!(tested.swap(0, Ordering::Relaxed), if cache { 100 } else { 510 });
        // Another condition, or one without a key, is tested on every row.
        assert_eq!(collect(&s, &scan(123, true)).await.len(), 1);
        assert_eq!(tested.swap(0, Ordering::Relaxed), 1000);
        assert_eq!(collect(&s, &scan(7, false)).await.len(), 1);
        assert_eq!(tested.swap(0, Ordering::Relaxed), 1000);
        // Rows in memory are never skipped.
        s.append(vec![note(9_000, 7)]).unwrap();
        assert_eq!(times(collect(&s, &scan(7, true)).await), vec![1_007, 9_000]);
        assert_eq!(tested.swap(0, Ordering::Relaxed), if cache { 100 } else { 1000 });
        // With `cheap` columns, the group where the condition holds for some row is read
        // again for those only: no ID is tested (the test checks what it is given).
        // Of that group, only the page (of 10 rows) holding such a row is read.
        let given = Arc::new(AtomicUsize::new(0));
        let mut f = id_is(7, true, true, tested.clone());
        let (inner, seen) = (f.test.clone(), given.clone());
        f.test = Arc::new(move |b: &RecordBatch, known: Option<&crate::Met>| {
            if known.is_some() {
                seen.fetch_add(b.num_rows(), Ordering::Relaxed);
            }
            inner(b, known)
        });
        let cheap = Scan { filter: Some(f), ..Scan::all() };
        assert_eq!(times(collect(&s, &cheap).await), vec![1_007, 9_000]);
        assert_eq!(tested.swap(0, Ordering::Relaxed), if cache { 0 } else { 1000 });
        assert_eq!(given.swap(0, Ordering::Relaxed), if cache { 10 } else { 0 });
    }
}

#[tokio::test]
async fn a_keyed_scan_reads_only_the_pages_whose_filters_have_its_keys() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let (_dir, store, log) = fresh();
    // Row groups of 100 rows, filters per page of 10.
    let opts = Options { row_group_rows: 100, ..Options::default() };
    let s = open(&log, &store, opts.clone()).await;
    s.append((0..1000).map(|i| note(1_000 + i as i64, i)).collect()).unwrap();
    s.seal().await.unwrap();
    let tested = Arc::new(AtomicUsize::new(0));
    let key = |id: u32| bloom::key(&[b"id", &id.to_be_bytes()]);
    let keyed =
        |id: u32, keys: Vec<u64>| Scan { keys, filter: Some(id_is(id, true, false, tested.clone())), ..Scan::all() };
    let times = |v: Vec<Note>| v.into_iter().map(|n| n.t).collect::<Vec<_>>();
    let mut s = Some(s);
    for round in 0..2 {
        // The second time the segment is loaded from its sidecar, which keeps the
        // filters per page.
        let s = match s.take() {
            Some(s) => s,
            None => open(&log, &store, opts.clone()).await,
        };
        // The ID's page alone is tested.
        for _ in 0..2 {
            assert_eq!(times(collect(&s, &keyed(777, vec![key(777)])).await), vec![1_777], "round {round}");
            assert_eq!(tested.swap(0, Ordering::Relaxed), 10);
        }
        // What the test found of that page is remembered of the group (the other pages'
        // filters show no row of them meets the condition): with `cheap` columns the
        // second scan reads the time alone, and what is remembered of the page's rows
        // gives the same answer.
        let cheap =
            |id: u32| Scan { keys: vec![key(id)], filter: Some(id_is(id, true, true, tested.clone())), ..Scan::all() };
        assert_eq!(times(collect(&s, &cheap(345)).await), vec![1_345]);
        assert_eq!(tested.swap(0, Ordering::Relaxed), 10);
        assert_eq!(times(collect(&s, &cheap(345)).await), vec![1_345]);
        assert_eq!(tested.swap(0, Ordering::Relaxed), 0);
        // Two IDs of two pages of one group, either: those two pages.
        let either = Scan { any_keys: vec![key(3), key(57)], ..keyed(3, Vec::new()) };
        assert_eq!(times(collect(&s, &either).await), vec![1_003]);
        assert_eq!(tested.swap(0, Ordering::Relaxed), 20);
        // Without a filter, the rows of the key's page are the ones handed over.
        let plain = collect(&s, &Scan { keys: vec![key(123)], ..Scan::all() }).await;
        assert_eq!(times(plain), (1_120..1_130).collect::<Vec<_>>());
        // A key nobody has reads nothing.
        assert!(collect(&s, &keyed(5_000, vec![key(5_000)])).await.is_empty());
        assert_eq!(tested.swap(0, Ordering::Relaxed), 0);
        // Keys asked only of filters of a later keys version than these rows' (0) are
        // not asked of them; of this version or earlier, they are.
        let later = Scan { keys: vec![key(123)], keys_since: (1, vec![key(5_000)]), ..Scan::all() };
        assert_eq!(times(collect(&s, &later).await), (1_120..1_130).collect::<Vec<_>>(), "round {round}");
        assert!(collect(&s, &Scan { keys_since: (0, vec![key(5_000)]), ..Scan::all() }).await.is_empty());
        assert!(!collect(&s, &Scan { keys_since: (0, vec![key(123)]), ..Scan::all() }).await.is_empty());
        // Rows here and there of two pages (every other one): in few runs, read run by
        // run from those pages alone.
        let even = ids_where(|i| i % 2 == 0);
        let scattered = Scan { any_keys: vec![key(3), key(57)], filter: Some(even), ..Scan::all() };
        assert_eq!(times(collect(&s, &scattered).await), [0, 2, 4, 6, 8, 50, 52, 54, 56, 58].map(|i| 1_000 + i));
    }
}

#[tokio::test]
async fn a_filter_asking_for_dictionaries_gets_the_dictionary_coded_columns_as_such() {
    let (_dir, store, log) = fresh();
    let opts = Options { row_group_rows: 100, ..Options::default() };
    let s = open(&log, &store, opts).await;
    // Three distinct texts: the writer codes them with a dictionary.
    s.append((0..300).map(|i| Note { text: format!("kind {}", i % 3), ..note(1_000 + i as i64, i) }).collect())
        .unwrap();
    s.seal().await.unwrap();
    let types = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = types.clone();
    let filter = RowFilter {
        dictionary: true,
        skip: None,
        key: None,
        columns: vec!["text".into()],
        cheap: None,
        test: Arc::new(move |b: &RecordBatch, _: Option<&crate::Met>| {
            seen.lock().unwrap().push(b.column_by_name("text").unwrap().data_type().clone());
            let keep: BooleanArray = vec![true; b.num_rows()].into();
            keep.into()
        }),
    };
    assert_eq!(collect(&s, &Scan { filter: Some(filter), ..Scan::all() }).await.len(), 300);
    let types = types.lock().unwrap();
    assert_eq!(types.len(), 3);
    for t in types.iter() {
        assert!(matches!(t, DataType::Dictionary(_, _)), "{t}");
    }
}

#[test]
fn rows_sorted_by_their_classes_come_in_the_order_row_by_row_sorting_gives() {
    // IDs repeating (a class each), times repeating, arrival order scrambled.
    let rows: Vec<Note> =
        (0..5000u32).map(|i| Note { text: i.to_string(), ..note(((i * 7919) % 97) as i64, (i * 31) % 13) }).collect();
    let mut by_class: Vec<&Note> = rows.iter().collect();
    crate::build::sort_rows::<Notes>(&mut by_class);
    let mut by_row: Vec<&Note> = rows.iter().collect();
    by_row.sort_by(|a, b| Notes::order(a, b).then(a.t.cmp(&b.t)));
    assert_eq!(by_class, by_row);
}

#[tokio::test]
async fn a_keyed_scan_of_rows_in_memory_visits_only_the_batches_whose_filters_have_its_keys() {
    let (_dir, store, log) = fresh();
    let s = open(&log, &store, Options::default()).await;
    // Ten batches of 100 rows each, times 1_000.. in order.
    for b in 0..10u32 {
        s.append((b * 100..b * 100 + 100).map(|i| note(1_000 + i as i64, i)).collect()).unwrap();
    }
    let key = |id: u32| bloom::key(&[b"id", &id.to_be_bytes()]);
    let visited = |scan: Scan| {
        let s = &s;
        async move {
            let mut seen = Vec::new();
            s.scan_at(&scan, |r, at| {
                seen.push((r.t, at));
                ControlFlow::Continue(())
            })
            .await
            .unwrap();
            seen
        }
    };
    // Each visit twice: the first builds the batches' filters, the second reads them.
    for _ in 0..2 {
        // One key: its batch's rows alone are handed over, at the positions a scan of
        // every row gives them.
        let one = visited(Scan { keys: vec![key(345)], ..Scan::all() }).await;
        assert_eq!(one, (300..400).map(|i| (1_000 + i as i64, i as u64 + 1)).collect::<Vec<_>>());
        // Either of two keys: both batches.
        let either = visited(Scan { any_keys: vec![key(5), key(999)], ..Scan::all() }).await;
        let rows: Vec<i64> = either.iter().map(|(t, _)| t - 1_000).collect();
        assert_eq!(rows, (0..100).chain(900..1000).collect::<Vec<_>>());
        // A key nobody has, or a time range of no batch: nothing.
        assert!(visited(Scan { keys: vec![key(5_000)], ..Scan::all() }).await.is_empty());
        let later = Scan { min_t: 3_000, keys: vec![key(345)], ..Scan::all() };
        assert!(visited(later).await.is_empty());
        // Without keys every row is visited.
        assert_eq!(visited(Scan::all()).await.len(), 1000);
    }
}

#[tokio::test]
async fn rows_in_many_short_runs_are_read_by_mask_and_in_few_runs_by_their_pages() {
    let (_dir, store, log) = fresh();
    // One row group of 2000 rows (pages of 10).
    let opts = Options { row_group_rows: 2000, ..Options::default() };
    let s = open(&log, &store, opts).await;
    s.append((0..2000).map(|i| note(1_000 + i as i64, i)).collect()).unwrap();
    s.seal().await.unwrap();
    let ids = |v: Vec<Note>| v.into_iter().map(|n| n.t - 1_000).collect::<Vec<_>>();
    // Every other row: 2000 runs, masked.
    let even = collect(&s, &Scan { filter: Some(ids_where(|i| i % 2 == 0)), ..Scan::all() }).await;
    assert_eq!(ids(even), (0..2000).step_by(2).collect::<Vec<_>>());
    // One row in 150: 27 runs, read run by run.
    let few = collect(&s, &Scan { filter: Some(ids_where(|i| i % 150 == 7)), ..Scan::all() }).await;
    assert_eq!(ids(few), (7..2000).step_by(150).collect::<Vec<_>>());
}
