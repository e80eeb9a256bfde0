/* Tests of the data readers and RecBole preparation: format detection, the three
 * formats, column order and aliases, CR/LF, UTF-8, long lines, time sort with stable
 * ties, remapping order, k-core fixed point, interval syntax, and bad input. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mgsd/data.h"
#include "test_util.h"

static mgsd_data_options nofilter(void) {
    mgsd_data_options o;
    mgsd_data_options_default(&o);
    o.user_inter_num_interval = "";
    o.item_inter_num_interval = "";
    return o;
}

static const char *fixture(const char *name) {
    static char buf[4096];
    const char *src = getenv("MGSD_SOURCE_DIR");
    snprintf(buf, sizeof buf, "%s/tests/fixtures/data/%s", src ? src : ".", name);
    return buf;
}

/* Sequence of user `name` as item names joined by spaces. */
static const char *seq_names(const mgsd_dataset *ds, const char *user) {
    static char buf[1024];
    buf[0] = '\0';
    int32_t u = mgsd_dataset_find_user(ds, user);
    if (u < 0) return "(no user)";
    const int32_t *it;
    int32_t n;
    if (mgsd_dataset_user_items(ds, u, &it, &n) != MGSD_OK) return "(error)";
    for (int32_t k = 0; k < n; k++) {
        if (k) strcat(buf, " ");
        strcat(buf, mgsd_dataset_item_name(ds, it[k]));
    }
    return buf;
}

static mgsd_status load_str(mgsd_dataset **ds, const char *text, const mgsd_data_options *o) {
    return mgsd_dataset_load_buffer(ds, text, strlen(text), "mem", o);
}

static void test_inter_fixture(void) {
    mgsd_data_options o = nofilter();
    mgsd_dataset *ds = NULL;
    CHECK_OK(mgsd_dataset_load(&ds, fixture("tiny.inter"), &o));
    if (!ds) return;
    CHECK_STR_EQ(mgsd_dataset_format(ds), "inter");
    CHECK_INT_EQ(mgsd_dataset_num_users(ds), 2);
    CHECK_INT_EQ(mgsd_dataset_num_items(ds), 5);
    CHECK_INT_EQ(mgsd_dataset_num_interactions(ds), 6);
    /* ids in order of first appearance: u1, u2; b, a, c, d */
    CHECK_INT_EQ(mgsd_dataset_find_user(ds, "u1"), 1);
    CHECK_INT_EQ(mgsd_dataset_find_user(ds, "u2"), 2);
    CHECK_INT_EQ(mgsd_dataset_find_item(ds, "b"), 1);
    CHECK_INT_EQ(mgsd_dataset_find_item(ds, "a"), 2);
    CHECK_INT_EQ(mgsd_dataset_find_item(ds, "d"), 4);
    CHECK_INT_EQ(mgsd_dataset_find_item(ds, "zz"), -1);
    CHECK_STR_EQ(mgsd_dataset_item_name(ds, 3), "c");
    CHECK(mgsd_dataset_item_name(ds, 0) == NULL);
    CHECK(mgsd_dataset_item_name(ds, 5) == NULL);
    CHECK(mgsd_dataset_user_name(ds, 0) == NULL);
    /* time order, tie (a and d at 10) kept in file order */
    CHECK_STR_EQ(seq_names(ds, "u1"), "a d c b");
    CHECK_STR_EQ(seq_names(ds, "u2"), "a b");
    const int64_t *offs = mgsd_dataset_user_offsets(ds);
    CHECK_INT_EQ(offs[0], 0);
    CHECK_INT_EQ(offs[1], 0);
    CHECK_INT_EQ(offs[2], 4);
    CHECK_INT_EQ(offs[3], 6);
    const int64_t *src = mgsd_dataset_source_rows(ds);
    CHECK_INT_EQ(src[0], 1);
    CHECK_INT_EQ(src[1], 3);
    CHECK_INT_EQ(src[3], 0);
    CHECK_NEAR(mgsd_dataset_timestamps(ds)[2], 20.0, 0);
    const int32_t *it;
    int32_t n;
    CHECK_STATUS(mgsd_dataset_user_items(ds, 3, &it, &n), MGSD_ERR_INVALID_ARG);
    mgsd_dataset_free(ds);
}

static void test_seq_fixture(void) {
    mgsd_data_options o = nofilter();
    mgsd_dataset *ds = NULL;
    CHECK_OK(mgsd_dataset_load(&ds, fixture("tiny_seq.txt"), &o));
    if (!ds) return;
    CHECK_STR_EQ(mgsd_dataset_format(ds), "seq");
    CHECK_INT_EQ(mgsd_dataset_num_users(ds), 4);
    CHECK_INT_EQ(mgsd_dataset_num_items(ds), 5);
    CHECK_INT_EQ(mgsd_dataset_num_interactions(ds), 12);
    CHECK_STR_EQ(seq_names(ds, "u2"), "i2 i3 i4");
    CHECK_STR_EQ(seq_names(ds, "u3"), "i1 i4"); /* CR stripped */
    CHECK_STR_EQ(seq_names(ds, "u4"), "i4 i3 i2 i1"); /* no final newline */
    mgsd_dataset_free(ds);
}

static void test_csv_fixture(void) {
    mgsd_data_options o = nofilter();
    mgsd_dataset *ds = NULL;
    CHECK_OK(mgsd_dataset_load(&ds, fixture("tiny.csv"), &o));
    if (!ds) return;
    CHECK_STR_EQ(mgsd_dataset_format(ds), "csv");
    CHECK_INT_EQ(mgsd_dataset_num_users(ds), 2);
    CHECK_INT_EQ(mgsd_dataset_num_items(ds), 3);
    CHECK_STR_EQ(seq_names(ds, "7"), "200 100"); /* sorted by timestamp; quoted "200" unquoted */
    CHECK_STR_EQ(seq_names(ds, "8"), "100");
    mgsd_dataset_free(ds);
    /* forced format on a csv without the auto-detected comma pattern */
    CHECK_OK(load_str(&ds, "user,item\n\"a,b\",x\n\"a,b\",y\n", &o));
    if (ds) {
        CHECK_STR_EQ(seq_names(ds, "a,b"), "x y");
        mgsd_dataset_free(ds);
    }
    /* quoted header names with escaped quotes (regression: the header was unescaped twice) */
    CHECK_OK(load_str(&ds, "\"say \"\"hi\"\"\",user,\"item\"\n1,u,\"i\"\"x\"\n", &o));
    if (ds) {
        CHECK_STR_EQ(seq_names(ds, "u"), "i\"x");
        mgsd_dataset_free(ds);
    }
    CHECK_STATUS(load_str(&ds, "user,\"item\n1,2\n", &o), MGSD_ERR_PARSE);
    CHECK_CONTAINS(mgsd_last_error(), "mem:1: CSV header: unterminated quoted field");
    /* trailing comma and blanks around unquoted fields are accepted */
    CHECK_OK(load_str(&ds, "item_id:token, user_id:token ,ts\n i , u , 2 ,\nj,u,1\n", &o));
    if (ds) {
        CHECK_STR_EQ(seq_names(ds, "u"), "j i");
        mgsd_dataset_free(ds);
    }
}

static void test_utf8_crlf(void) {
    mgsd_data_options o = nofilter();
    mgsd_dataset *ds = NULL;
    CHECK_OK(mgsd_dataset_load(&ds, fixture("utf8_crlf.inter"), &o));
    if (!ds) return;
    CHECK_INT_EQ(mgsd_dataset_num_users(ds), 2);
    CHECK_INT_EQ(mgsd_dataset_find_item(ds, "日本"), 1);
    CHECK_INT_EQ(mgsd_dataset_find_item(ds, "naïve"), 2);
    CHECK_STR_EQ(seq_names(ds, "café"), "日本 naïve");
    CHECK_STR_EQ(mgsd_dataset_user_name(ds, 2), "Ω");
    mgsd_dataset_free(ds);
    /* byte order mark before the header */
    CHECK_OK(load_str(&ds, "\xEF\xBB\xBFuser_id:token\titem_id:token\nu\ti\n", &o));
    if (ds) {
        CHECK_INT_EQ(mgsd_dataset_find_user(ds, "u"), 1);
        mgsd_dataset_free(ds);
    }
}

static void test_formats_forced(void) {
    mgsd_data_options o = nofilter();
    mgsd_dataset *ds = NULL;
    /* a sequence file whose tokens contain commas is still a sequence file when forced */
    o.format = "seq";
    CHECK_OK(load_str(&ds, "a,1 x y\n", &o));
    if (ds) {
        CHECK_INT_EQ(mgsd_dataset_find_user(ds, "a,1"), 1);
        mgsd_dataset_free(ds);
    }
    o.format = "parquet";
    CHECK_STATUS(load_str(&ds, "a b\n", &o), MGSD_ERR_CONFIG);
    CHECK_CONTAINS(mgsd_last_error(), "parquet");
    CHECK(ds == NULL);
    /* .inter without timestamp: file order */
    o = nofilter();
    CHECK_OK(load_str(&ds, "item_id:token\tuser_id:token\nq\tu\np\tu\n", &o));
    if (ds) {
        CHECK_STR_EQ(seq_names(ds, "u"), "q p");
        mgsd_dataset_free(ds);
    }
    /* untyped TAB header naming user and item columns is an .inter header */
    CHECK_OK(load_str(&ds, "userId\titemId\ttimestamp\nu\tx\t2\nu\ty\t1\n", &o));
    if (ds) {
        CHECK_STR_EQ(mgsd_dataset_format(ds), "inter");
        CHECK_STR_EQ(seq_names(ds, "u"), "y x");
        mgsd_dataset_free(ds);
    }
    /* trailing tab and trailing blanks on .inter rows */
    CHECK_OK(load_str(&ds, "user_id:token\titem_id:token\ttimestamp:float\nu\tx\t2 \t\nu\ty\t1\n\n  \n", &o));
    if (ds) {
        CHECK_STR_EQ(seq_names(ds, "u"), "y x");
        mgsd_dataset_free(ds);
    }
    /* float and exponent timestamps */
    CHECK_OK(load_str(&ds, "user_id:token\titem_id:token\ttimestamp:float\nu\tx\t1.5e3\nu\ty\t-2.25\n", &o));
    if (ds) {
        CHECK_STR_EQ(seq_names(ds, "u"), "y x");
        mgsd_dataset_free(ds);
    }
}

static void test_long_line(void) {
    /* One 3 MB line (longer than the 1 MB read chunk) through a file and from memory. */
    int n_items = 400000;
    size_t cap = (size_t)n_items * 8 + 64;
    char *buf = malloc(cap);
    size_t len = (size_t)sprintf(buf, "user");
    for (int i = 0; i < n_items; i++) len += (size_t)sprintf(buf + len, " it%d", i % 1000);
    len += (size_t)sprintf(buf + len, "\nother it1 it2\n");
    mgsd_data_options o = nofilter();
    mgsd_dataset *ds = NULL;
    CHECK_OK(mgsd_dataset_load_buffer(&ds, buf, len, "long", &o));
    if (ds) {
        CHECK_INT_EQ(mgsd_dataset_num_interactions(ds), n_items + 2);
        CHECK_INT_EQ(mgsd_dataset_num_items(ds), 1001);
        mgsd_dataset_free(ds);
    }
    char path[] = "/tmp/mgsd_test_long_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd >= 0) {
        FILE *f = fdopen(fd, "wb");
        fwrite(buf, 1, len, f);
        fclose(f);
        CHECK_OK(mgsd_dataset_load(&ds, path, &o));
        if (ds) {
            CHECK_INT_EQ(mgsd_dataset_num_interactions(ds), n_items + 2);
            const int32_t *it;
            int32_t cnt;
            CHECK_OK(mgsd_dataset_user_items(ds, 1, &it, &cnt));
            CHECK_INT_EQ(cnt, n_items);
            CHECK_STR_EQ(mgsd_dataset_item_name(ds, it[cnt - 1]), "it999");
            mgsd_dataset_free(ds);
        }
        remove(path);
    }
    free(buf);
}

static void test_token_lookup(void) {
    /* Tokens sharing 8-byte prefixes, differing only after byte 8, and longer than 255
     * bytes (the interner's inline prefix and length tag must not confuse them). */
    char long1[301], long2[301], text[2048];
    memset(long1, 'q', 300);
    long1[300] = '\0';
    memcpy(long2, long1, sizeof long1);
    long2[299] = 'r';
    snprintf(text, sizeof text, "u abcdefgh abcdefghi abcdefghj abcdefg %s %s abcdefgh a\nv %s a\n", long1, long2, long2);
    mgsd_data_options o = nofilter();
    mgsd_dataset *ds = NULL;
    CHECK_OK(load_str(&ds, text, &o));
    if (!ds) return;
    CHECK_INT_EQ(mgsd_dataset_num_items(ds), 8);
    CHECK_INT_EQ(mgsd_dataset_find_item(ds, "abcdefgh"), 1);
    CHECK_INT_EQ(mgsd_dataset_find_item(ds, "abcdefghi"), 2);
    CHECK_INT_EQ(mgsd_dataset_find_item(ds, "abcdefghj"), 3);
    CHECK_INT_EQ(mgsd_dataset_find_item(ds, "abcdefg"), 4);
    CHECK_INT_EQ(mgsd_dataset_find_item(ds, long1), 5);
    CHECK_INT_EQ(mgsd_dataset_find_item(ds, long2), 6);
    CHECK_INT_EQ(mgsd_dataset_find_item(ds, "abcdefghk"), -1);
    CHECK_INT_EQ(mgsd_dataset_find_item(ds, "abcdef"), -1);
    CHECK_INT_EQ(mgsd_dataset_find_item(ds, ""), -1);
    long1[299] = 's';
    CHECK_INT_EQ(mgsd_dataset_find_item(ds, long1), -1);
    CHECK_STR_EQ(mgsd_dataset_item_name(ds, 6), long2);
    const int32_t *it;
    int32_t n;
    CHECK_OK(mgsd_dataset_user_items(ds, 2, &it, &n));
    CHECK_INT_EQ(n, 2);
    CHECK_INT_EQ(it[0], 6);
    mgsd_dataset_free(ds);
    /* many distinct tokens: table growth keeps every id */
    size_t cap = 20000 * 8 + 16, len = 0;
    char *big = malloc(cap);
    len += (size_t)sprintf(big, "u");
    for (int i = 0; i < 20000; i++) len += (size_t)sprintf(big + len, " t%d", i);
    big[len++] = '\n';
    CHECK_OK(mgsd_dataset_load_buffer(&ds, big, len, "big", &o));
    if (ds) {
        int bad = 0;
        char nm[16];
        for (int i = 0; i < 20000; i++) {
            snprintf(nm, sizeof nm, "t%d", i);
            bad += mgsd_dataset_find_item(ds, nm) != i + 1;
        }
        CHECK_INT_EQ(bad, 0);
        mgsd_dataset_free(ds);
    }
    free(big);
}

static void test_kcore(void) {
    /* 3-core on items and users. Item z occurs 3 times but two of its users (p, q) have
     * 3 interactions including z; after dropping item w (2 occurrences), user p falls to
     * 2 and is dropped, which drops z to 2, which drops q ... fixed point: only a,b,c
     * with users r,s,t survive. */
    const char *text =
        "r a b c\n"
        "s a b c\n"
        "t a b c\n"
        "p w z a\n"
        "q w z b\n"
        "x z c\n";
    mgsd_data_options o;
    mgsd_data_options_default(&o);
    o.user_inter_num_interval = "[3,inf)";
    o.item_inter_num_interval = "[3,inf)";
    mgsd_dataset *ds = NULL;
    CHECK_OK(load_str(&ds, text, &o));
    if (ds) {
        CHECK_INT_EQ(mgsd_dataset_num_users(ds), 3);
        CHECK_INT_EQ(mgsd_dataset_num_items(ds), 4);
        CHECK_INT_EQ(mgsd_dataset_num_interactions(ds), 9);
        CHECK_INT_EQ(mgsd_dataset_find_user(ds, "p"), -1);
        CHECK_INT_EQ(mgsd_dataset_find_item(ds, "z"), -1);
        CHECK_INT_EQ(mgsd_dataset_num_rows_read(ds), 17);
        mgsd_dataset_free(ds);
    }
    /* upper bounds: items seen more than twice are removed */
    o.user_inter_num_interval = "";
    o.item_inter_num_interval = "(0,2]";
    CHECK_OK(load_str(&ds, text, &o));
    if (ds) {
        CHECK_INT_EQ(mgsd_dataset_find_item(ds, "a"), -1);
        CHECK(mgsd_dataset_find_item(ds, "w") > 0);
        CHECK_STR_EQ(seq_names(ds, "p"), "w");
        mgsd_dataset_free(ds);
    }
    /* nothing left */
    o.user_inter_num_interval = "[100,inf)";
    o.item_inter_num_interval = "";
    CHECK_STATUS(load_str(&ds, text, &o), MGSD_ERR_EMPTY);
    CHECK_CONTAINS(mgsd_last_error(), "no interaction left after filtering");
    CHECK(ds == NULL);
}

/* val_interval (RecBole _filter_by_field_value): rows are kept by column value before
 * k-core filtering; source rows still index the file; errors name what is wrong. */
static void test_val_interval(void) {
    const char *inter =
        "user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
        "u1\ta\t5\t1\n"
        "u1\tb\t2\t2\n"
        "u1\tc\t4\t3\n"
        "u2\ta\t3\t1\n"
        "u2\tc\t1\t2\n"
        "u2\td\t2.5\t3\n";
    mgsd_data_options o = nofilter();
    mgsd_dataset *ds = NULL;
    o.val_interval = "rating=[3,inf)";
    CHECK_OK(load_str(&ds, inter, &o));
    if (ds) {
        CHECK_INT_EQ(mgsd_dataset_num_interactions(ds), 3);
        CHECK_INT_EQ(mgsd_dataset_num_rows_read(ds), 6);
        CHECK_STR_EQ(seq_names(ds, "u1"), "a c");
        CHECK_STR_EQ(seq_names(ds, "u2"), "a");
        CHECK_INT_EQ(mgsd_dataset_find_item(ds, "b"), -1);
        const int64_t *src = mgsd_dataset_source_rows(ds);
        int32_t u1 = mgsd_dataset_find_user(ds, "u1");
        const int64_t *offs = mgsd_dataset_user_offsets(ds);
        CHECK(src[offs[u1]] == 0 && src[offs[u1] + 1] == 2); /* file rows of u1's a and c */
        mgsd_dataset_free(ds);
    }
    /* several intervals (any), several fields (all), then k-core on what is left */
    o.val_interval = "rating=(1,2];[5,5] timestamp=[2,inf)";
    CHECK_OK(load_str(&ds, inter, &o));
    if (ds) {
        CHECK_STR_EQ(seq_names(ds, "u1"), "b");
        CHECK_INT_EQ(mgsd_dataset_find_user(ds, "u2"), -1); /* a: ts 1; c: rating 1; d: rating 2.5 */
        mgsd_dataset_free(ds);
    }
    o.val_interval = "rating=[3,inf)";
    o.user_inter_num_interval = "[2,inf)";
    CHECK_OK(load_str(&ds, inter, &o));
    if (ds) {
        CHECK_INT_EQ(mgsd_dataset_num_users(ds), 1); /* u2 keeps one row: dropped by the 2-core */
        mgsd_dataset_free(ds);
    }
    o.user_inter_num_interval = "";
    CHECK_OK(load_str(&ds, "user,item,rating\nx,a,4\nx,b,1\n", &o)); /* CSV */
    if (ds) {
        CHECK_STR_EQ(seq_names(ds, "x"), "a");
        mgsd_dataset_free(ds);
    }
    o.val_interval = "None";
    CHECK_OK(load_str(&ds, inter, &o));
    if (ds) {
        CHECK_INT_EQ(mgsd_dataset_num_interactions(ds), 6);
        mgsd_dataset_free(ds);
    }
    struct {
        const char *text, *filter, *msg;
        mgsd_status st;
    } bad[] = {
        {"user_id:token\titem_id:token\n1\t2\n", "rating=[3,inf)", "mem:1: val_interval: the .inter header has no column 'rating'", MGSD_ERR_CONFIG},
        {"user_id:token\titem_id:token\trating:float\n1\t2\t3\n1\t3\tgood\n", "rating=[3,inf)", "mem:3: rating 'good' is not a finite number", MGSD_ERR_PARSE},
        {"u1 a b c\n", "rating=[3,inf)", "a sequence file has only users and items", MGSD_ERR_CONFIG},
        {inter, "rating", "expected field=interval", MGSD_ERR_CONFIG},
        {inter, "rating=3", "expected RecBole syntax", MGSD_ERR_CONFIG},
        {inter, "rating=", "field 'rating' has no interval", MGSD_ERR_CONFIG},
        {inter, "rating=[9,inf)", "no interaction left after filtering (val_interval 'rating=[9,inf)'", MGSD_ERR_EMPTY},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        o.val_interval = bad[k].filter;
        CHECK_STATUS(load_str(&ds, bad[k].text, &o), bad[k].st);
        CHECK_CONTAINS(mgsd_last_error(), bad[k].msg);
        CHECK(ds == NULL);
    }
}

/* rm_dup_inter (RecBole _remove_duplication): one row per (user, item), the earliest or the
 * latest in time order (ties in file order), before the other filters. */
static void test_rm_dup_inter(void) {
    const char *inter =
        "user_id:token\titem_id:token\ttimestamp:float\n"
        "u\ta\t5\n"
        "u\tb\t1\n"
        "u\ta\t2\n"
        "u\tc\t3\n"
        "u\ta\t9\n"
        "v\ta\t4\n"
        "v\ta\t4\n";
    mgsd_data_options o = nofilter();
    mgsd_dataset *ds = NULL;
    CHECK_OK(load_str(&ds, inter, &o)); /* default: every row kept */
    if (ds) {
        CHECK_STR_EQ(seq_names(ds, "u"), "b a c a a");
        mgsd_dataset_free(ds);
    }
    o.rm_dup_inter = "first";
    CHECK_OK(load_str(&ds, inter, &o));
    if (ds) {
        CHECK_STR_EQ(seq_names(ds, "u"), "b a c"); /* a kept at time 2 */
        CHECK_STR_EQ(seq_names(ds, "v"), "a");
        const int64_t *src = mgsd_dataset_source_rows(ds);
        const int64_t *offs = mgsd_dataset_user_offsets(ds);
        int32_t v = mgsd_dataset_find_user(ds, "v"), u = mgsd_dataset_find_user(ds, "u");
        CHECK_INT_EQ(src[offs[v]], 5); /* the tie goes to the earlier row of the file */
        CHECK_INT_EQ(src[offs[u] + 1], 2);
        mgsd_dataset_free(ds);
    }
    o.rm_dup_inter = "LAST";
    CHECK_OK(load_str(&ds, inter, &o));
    if (ds) {
        CHECK_STR_EQ(seq_names(ds, "u"), "b c a"); /* a kept at time 9 */
        const int64_t *src = mgsd_dataset_source_rows(ds);
        CHECK_INT_EQ(src[mgsd_dataset_user_offsets(ds)[mgsd_dataset_find_user(ds, "v")]], 6);
        mgsd_dataset_free(ds);
    }
    /* before the k-core filter: u has 3 distinct items, so a 4-core on users removes it */
    o.rm_dup_inter = "first";
    o.user_inter_num_interval = "[4,inf)";
    CHECK_STATUS(load_str(&ds, inter, &o), MGSD_ERR_EMPTY);
    o.user_inter_num_interval = "";
    o.rm_dup_inter = "~"; /* YAML's null */
    o.val_interval = "null";
    CHECK_OK(load_str(&ds, inter, &o));
    if (ds) {
        CHECK_INT_EQ(mgsd_dataset_num_interactions(ds), 7);
        mgsd_dataset_free(ds);
    }
    o.val_interval = NULL;
    o.rm_dup_inter = "newest";
    CHECK_STATUS(load_str(&ds, inter, &o), MGSD_ERR_CONFIG);
    CHECK_CONTAINS(mgsd_last_error(), "rm_dup_inter 'newest': expected none, first or last");
    CHECK(ds == NULL);
}

static void test_intervals(void) {
    double lo[4], hi[4];
    int fl[4], n = 4;
    CHECK_OK(mgsd_data_parse_intervals("[5,inf)", lo, hi, fl, &n));
    CHECK_INT_EQ(n, 1);
    CHECK_NEAR(lo[0], 5, 0);
    CHECK(hi[0] > 1e300);
    CHECK_INT_EQ(fl[0], 1);
    n = 4;
    CHECK_OK(mgsd_data_parse_intervals(" (0, 100] ; [200,300]", lo, hi, fl, &n));
    CHECK_INT_EQ(n, 2);
    CHECK_INT_EQ(fl[0], 2);
    CHECK_INT_EQ(fl[1], 3);
    CHECK_NEAR(hi[1], 300, 0);
    const char *bad[] = {"5", "[5,inf", "[a,3]", "[5;6]", "[7,3]", "[,3]"};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        n = 4;
        CHECK_STATUS(mgsd_data_parse_intervals(bad[k], lo, hi, fl, &n), MGSD_ERR_CONFIG);
    }
    mgsd_data_options o;
    mgsd_data_options_default(&o);
    o.user_inter_num_interval = "[5,inf";
    mgsd_dataset *ds = NULL;
    CHECK_STATUS(load_str(&ds, "u a b c d e\n", &o), MGSD_ERR_CONFIG);
    CHECK_CONTAINS(mgsd_last_error(), "[5,inf");
    /* multiple intervals: keep users with exactly 1 or at least 3 interactions */
    o = nofilter();
    o.user_inter_num_interval = "[1,1];[3,inf)";
    CHECK_OK(load_str(&ds, "u1 a\nu2 a b\nu3 a b c\n", &o));
    if (ds) {
        CHECK_INT_EQ(mgsd_dataset_num_users(ds), 2);
        CHECK_INT_EQ(mgsd_dataset_find_user(ds, "u2"), -1);
        mgsd_dataset_free(ds);
    }
}

static void expect_error(const char *text, mgsd_status st, const char *needle) {
    mgsd_data_options o = nofilter();
    mgsd_dataset *ds = NULL;
    mgsd_status got = load_str(&ds, text, &o);
    CHECK_STATUS(got, st);
    CHECK_CONTAINS(mgsd_last_error(), needle);
    CHECK(ds == NULL);
    if (ds) mgsd_dataset_free(ds);
}

static void test_bad_input(void) {
    mgsd_data_options o = nofilter();
    mgsd_dataset *ds = NULL;
    CHECK_STATUS(mgsd_dataset_load(&ds, fixture("bad_fields.inter"), &o), MGSD_ERR_PARSE);
    CHECK_CONTAINS(mgsd_last_error(), "bad_fields.inter:3: expected 4 tab-separated fields, found 2");
    CHECK_STATUS(mgsd_dataset_load(&ds, "/nonexistent/mgsd/file.inter", &o), MGSD_ERR_IO);
    CHECK_CONTAINS(mgsd_last_error(), "/nonexistent/mgsd/file.inter");
    CHECK_STATUS(mgsd_dataset_load(&ds, "/", &o), MGSD_ERR_IO); /* a folder: the reason is named */
    CHECK_CONTAINS(mgsd_last_error(), "/: read error: Is a directory");

    expect_error("", MGSD_ERR_EMPTY, "mem: empty file");
    expect_error("\n\n  \r\n", MGSD_ERR_EMPTY, "empty file");
    expect_error("user_id:token\titem_id:token\n", MGSD_ERR_EMPTY, "header only");
    expect_error("user_id:token\trating:float\n1\t2\n", MGSD_ERR_FORMAT, "mem:1:");
    expect_error("user_id:token\titem_id:token\ttimestamp:float\n1\t2\tyesterday\n", MGSD_ERR_PARSE,
                 "mem:2: timestamp 'yesterday' is not a finite number");
    expect_error("user_id:token\titem_id:token\ttimestamp:float\n1\t2\tnan\n", MGSD_ERR_PARSE, "timestamp");
    expect_error("user_id:token\titem_id:token\ttimestamp:float\n1\t2\t\n", MGSD_ERR_PARSE, "timestamp");
    expect_error("user_id:token\titem_id:token\n1\t2\t3\n", MGSD_ERR_PARSE,
                 "mem:2: expected 2 tab-separated fields, found 3");
    expect_error("user_id:token\titem_id:token\n\t2\n", MGSD_ERR_PARSE, "mem:2: empty user id");
    expect_error("user_id:token\titem_id:token\n1\t\n", MGSD_ERR_PARSE, "empty item id");
    expect_error("u1 a b\nu2\n", MGSD_ERR_PARSE, "mem:2: expected 'user item [item ...]'");
    expect_error("user,item\n1,\"2\n", MGSD_ERR_PARSE, "mem:2: unterminated quoted field");
    expect_error("user,item\n1,\"2\"x\n", MGSD_ERR_PARSE, "after a closing quote");
    expect_error("user,item\n1,2,3\n", MGSD_ERR_PARSE, "expected 2 comma-separated fields, found 3");
    expect_error("a,b,c\n1,2,3\n", MGSD_ERR_FORMAT, "CSV header needs a user column");
    /* embedded NUL byte */
    {
        const char bin[] = "u1 a b\nu2 a\0b\n";
        mgsd_status st = mgsd_dataset_load_buffer(&ds, bin, sizeof bin - 1, "bin", &o);
        CHECK_STATUS(st, MGSD_ERR_PARSE);
        CHECK_CONTAINS(mgsd_last_error(), "bin:2: NUL byte");
    }
    /* a very long timestamp field is reported, shortened */
    {
        char text[600] = "user_id:token\titem_id:token\ttimestamp:float\n1\t2\t";
        size_t l = strlen(text);
        memset(text + l, '9', 300);
        text[l + 300] = 'x';
        text[l + 301] = '\0';
        expect_error(text, MGSD_ERR_PARSE, "...");
    }
    CHECK_STATUS(mgsd_dataset_load_buffer(NULL, "x", 1, NULL, &o), MGSD_ERR_INVALID_ARG);
}

int main(void) {
    test_inter_fixture();
    test_seq_fixture();
    test_csv_fixture();
    test_utf8_crlf();
    test_formats_forced();
    test_long_line();
    test_token_lookup();
    test_kcore();
    test_val_interval();
    test_rm_dup_inter();
    test_intervals();
    test_bad_input();
    return test_summary();
}
