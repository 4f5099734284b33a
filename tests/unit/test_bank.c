/* The model bank: SHA-256 against FIPS 180-4's vectors, bank.json written by xf_bank_init
 * against what tests/ref/gen_bank.py computed with PyTorch/onnx/hashlib
 * (tests/ref/bank/expected.json), keys kept from a partial bank.json, a table of bad
 * bank.json files, xf_bank_load / xf_bank_verify catching a bank.json that lies, and
 * allocation failures. */
#include <cJSON.h>
#include <unistd.h>

#include "xfer/xfer.h"
#include "xtest.h"

static const char *MODELS[] = {"convnet", "mlp", "resblock"};

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

static char *read_text(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    if (s && fread(s, 1, (size_t)n, f) != (size_t)n) n = 0;
    if (s) s[n] = 0;
    fclose(f);
    return s;
}

static void copy_file(const char *from, const char *to) {
    FILE *a = fopen(from, "rb"), *b = fopen(to, "wb");
    char buf[8192];
    size_t n;
    while (a && b && (n = fread(buf, 1, sizeof buf, a)) > 0) fwrite(buf, 1, n, b);
    if (a) fclose(a);
    if (b) fclose(b);
}

/* A fresh folder under XF_TMP holding the three fixture models (and nothing else). */
static void make_bank(const char *name, char *dir, size_t cap, int nmodels) {
    char ref[1024], p[1200], cmd[1400];
    xt_tmp(name, dir, cap);
    snprintf(cmd, sizeof cmd, "rm -rf '%s' && mkdir -p '%s'", dir, dir);
    if (system(cmd)) fprintf(stderr, "cannot make %s\n", dir);
    for (int k = 0; k < nmodels; k++) {
        char rel[64];
        snprintf(rel, sizeof rel, "bank/%s.onnx", MODELS[k]);
        snprintf(p, sizeof p, "%s/%s.onnx", dir, MODELS[k]);
        copy_file(xt_ref(rel, ref, sizeof ref), p);
    }
}

static void test_sha256(xf_ctx_t *ctx) {
    static const struct { const char *msg, *hex; } v[] = {
        {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
    };
    for (int k = 0; k < 3; k++) {
        xf_sha256 s;
        uint8_t d[32];
        char hex[65];
        xf_sha256_init(&s);
        /* byte by byte, so the block boundary is crossed inside update */
        for (const char *c = v[k].msg; *c; c++) xf_sha256_update(&s, c, 1);
        xf_sha256_final(&s, d);
        xf_sha256_hex(d, hex);
        CHECK(!strcmp(hex, v[k].hex), "sha256('%s') = %s, want %s", v[k].msg, hex, v[k].hex);
    }
    /* 1,000,000 x 'a' in uneven pieces */
    xf_sha256 s;
    xf_sha256_init(&s);
    char a[997];
    memset(a, 'a', sizeof a);
    int64_t left = 1000000;
    while (left > 0) {
        size_t n = left < (int64_t)sizeof a ? (size_t)left : sizeof a;
        xf_sha256_update(&s, a, n);
        left -= (int64_t)n;
    }
    uint8_t d[32];
    char hex[65];
    xf_sha256_final(&s, d);
    xf_sha256_hex(d, hex);
    CHECK(!strcmp(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"), "sha256(1M a) = %s", hex);
    CHECK_ST(ctx, xf_sha256_file(ctx, "/nonexistent/x", hex), XF_ERR_IO);
}

/* bank init on the three models equals what PyTorch/onnx/hashlib said. */
static void test_init_matches_reference(xf_ctx_t *ctx) {
    char dir[1024], ref[1024];
    make_bank("bank_init", dir, sizeof dir, 3);
    xf_bank_init_opts o;
    xf_bank_init_opts_default(&o);
    o.has_norm = 1;
    o.mean[0] = 0.485f, o.mean[1] = 0.456f, o.mean[2] = 0.406f;
    o.std[0] = 0.229f, o.std[1] = 0.224f, o.std[2] = 0.225f;
    o.source = "digits";
    CHECK_OK(ctx, xf_bank_init(ctx, dir, &o));
    xf_bank_t *b = NULL;
    CHECK_OK(ctx, xf_bank_open(ctx, dir, &b));
    char *text = read_text(xt_ref("bank/expected.json", ref, sizeof ref));
    cJSON *exp = text ? cJSON_Parse(text) : NULL;
    CHECK(exp != NULL, "cannot read %s", ref);
    CHECK(xf_bank_count(b) == 3, "count %lld", (long long)xf_bank_count(b));
    for (int k = 0; k < 3 && b && exp; k++) {
        int64_t i = xf_bank_find(b, MODELS[k]);
        CHECK(i == k, "%s at %lld (files in name order)", MODELS[k], (long long)i);
        const xf_bank_model *m = xf_bank_model_at(b, i);
        const cJSON *e = cJSON_GetObjectItem(exp, MODELS[k]);
        if (!m || !e) continue;
        const cJSON *in = cJSON_GetObjectItem(e, "input");
        CHECK(!strcmp(m->sha256, cJSON_GetObjectItem(e, "sha256")->valuestring), "%s sha256 %s", m->name, m->sha256);
        CHECK(!strcmp(m->architecture, cJSON_GetObjectItem(e, "architecture")->valuestring), "%s architecture %s", m->name, m->architecture);
        CHECK(!strcmp(m->feature_tensor, cJSON_GetObjectItem(e, "feature_tensor")->valuestring), "%s feature %s", m->name, m->feature_tensor);
        CHECK(!strcmp(m->logits_tensor, "logits"), "%s logits %s", m->name, m->logits_tensor);
        CHECK(m->layers == cJSON_GetObjectItem(e, "layers")->valueint, "%s layers %lld", m->name, (long long)m->layers);
        CHECK(m->params == cJSON_GetObjectItem(e, "params")->valueint, "%s params %lld want %d", m->name, (long long)m->params,
              cJSON_GetObjectItem(e, "params")->valueint);
        CHECK(m->source_classes == cJSON_GetObjectItem(e, "source_classes")->valueint, "%s Z %lld", m->name, (long long)m->source_classes);
        CHECK(m->channels == cJSON_GetObjectItem(in, "channels")->valueint && m->height == cJSON_GetObjectItem(in, "height")->valueint &&
              m->width == cJSON_GetObjectItem(in, "width")->valueint, "%s input %lldx%lldx%lld", m->name, (long long)m->channels,
              (long long)m->height, (long long)m->width);
        CHECK(!strcmp(m->source, "digits"), "%s source %s", m->name, m->source);
        CHECK(m->mean[0] == 0.485f && m->std[0] == 0.229f, "%s mean/std %g %g", m->name, m->mean[0], m->std[0]);
        if (m->channels == 3) CHECK(m->mean[2] == 0.406f && m->std[2] == 0.225f, "%s mean[2] %g", m->name, m->mean[2]);
        char p[1200];
        snprintf(p, sizeof p, "%s/%s.onnx", dir, MODELS[k]);
        CHECK(!strcmp(m->path, p), "path %s", m->path);
        xf_graph *g = NULL;
        int fv = -1, lv = -1;
        CHECK_OK(ctx, xf_bank_load(ctx, b, i, 1, &g, &fv, &lv));
        CHECK(g && fv >= 0 && lv >= 0 && !strcmp(g->values[fv].name, m->feature_tensor), "load %s", m->name);
        xf_graph_free(g);
    }
    int64_t np = -1;
    CHECK_OK(ctx, xf_bank_verify(ctx, b, NULL, NULL, &np));
    CHECK(np == 0, "verify: %lld problems on a fresh bank: %s", (long long)np, xf_errmsg(ctx));
    CHECK(xf_bank_model_at(b, 3) == NULL && xf_bank_model_at(b, -1) == NULL, "out of range");
    CHECK(xf_bank_extra_str(b, 0, "kind") == NULL, "no extra keys");
    /* a second init changes nothing */
    char bj[1200];
    snprintf(bj, sizeof bj, "%s/bank.json", dir);
    char *before = read_text(bj);
    CHECK_OK(ctx, xf_bank_init(ctx, dir, NULL));
    char *after = read_text(bj);
    CHECK(before && after && !strcmp(before, after), "init is idempotent");
    free(before);
    free(after);
    cJSON_Delete(exp);
    free(text);
    xf_bank_free(b);
}

/* A partial bank.json (as the expert builder writes it) keeps its keys and values. */
static void test_init_keeps_keys(xf_ctx_t *ctx) {
    char dir[1024], p[1200];
    make_bank("bank_keep", dir, sizeof dir, 3);
    snprintf(p, sizeof p, "%s/bank.json", dir);
    write_text(p, "{\"models\": [{\"name\": \"expert-latin\", \"file\": \"mlp.onnx\", \"kind\": \"expert\", "
                  "\"slice\": \"latin\", \"slice_size\": 120, \"label_prior\": [0.25, 0.75], \"architecture\": \"custom-mlp\", "
                  "\"source\": \"upstream\"}], \"builder\": \"experts\"}");
    CHECK_OK(ctx, xf_bank_init(ctx, dir, NULL));
    xf_bank_t *b = NULL;
    CHECK_OK(ctx, xf_bank_open(ctx, dir, &b));
    CHECK(xf_bank_count(b) == 3, "count %lld", (long long)xf_bank_count(b));
    int64_t i = xf_bank_find(b, "expert-latin");
    const xf_bank_model *m = xf_bank_model_at(b, i);
    CHECK(i == 0 && m && !strcmp(m->file, "mlp.onnx"), "the existing entry stays first");
    if (m) {
        CHECK(!strcmp(m->architecture, "custom-mlp") && !strcmp(m->source, "upstream"), "kept %s %s", m->architecture, m->source);
        CHECK(m->layers == 2 && m->params == 6418, "filled layers %lld params %lld", (long long)m->layers, (long long)m->params);
    }
    const char *kind = xf_bank_extra_str(b, i, "kind"), *sz = xf_bank_extra_str(b, i, "slice_size"),
               *prior = xf_bank_extra_str(b, i, "label_prior");
    CHECK(kind && !strcmp(kind, "expert"), "kind %s", kind ? kind : "(null)");
    CHECK(sz && !strcmp(sz, "120"), "slice_size %s", sz ? sz : "(null)");
    CHECK(prior && !strcmp(prior, "[0.25,0.75]"), "label_prior %s", prior ? prior : "(null)");
    CHECK(xf_bank_extra_str(b, i, "name") == NULL, "standard keys are not extra");
    CHECK(xf_bank_find(b, "convnet") >= 0 && xf_bank_find(b, "resblock") >= 0, "new entries added");
    xf_bank_free(b);
    char *t = read_text(p);
    CHECK(t && strstr(t, "\"builder\"") && strstr(t, "\"format\""), "top-level keys kept and format added");
    free(t);
}

/* bank.json files that must be refused, each with a word of the message. */
static void test_bad_json(xf_ctx_t *ctx) {
    char dir[1024], p[1200];
    make_bank("bank_bad", dir, sizeof dir, 1);
    snprintf(p, sizeof p, "%s/bank.json", dir);
    CHECK_ST(ctx, xf_bank_open(ctx, dir, &(xf_bank_t *){NULL}), XF_ERR_NOTFOUND);
    CHECK(strstr(xf_errmsg(ctx), "bank init"), "no bank.json says what to run: %s", xf_errmsg(ctx));
    const char *H = "\"sha256\": \"d8c506259643b286af086d3d7584674cd164f2e5dc9e42fbdff885d144cf4c68\", "
                    "\"architecture\": \"a\", \"source\": \"s\", \"source_classes\": 10, \"layers\": 3, \"params\": 1466, "
                    "\"feature_tensor\": \"f\", \"logits_tensor\": \"logits\"";
    char good_in[] = "\"input\": {\"channels\": 1, \"height\": 16, \"width\": 16, \"mean\": [0], \"std\": [1]}";
    static struct { const char *json; xf_status st; const char *word; } cases[] = {
        {"{\"format\": \"xfer-bank\", \"version\": 1, \"models\": [", XF_ERR_FORMAT, "not valid JSON"},
        {"[]", XF_ERR_FORMAT, "not a JSON object"},
        {"{\"format\": \"other\", \"version\": 1, \"models\": []}", XF_ERR_FORMAT, "'format'"},
        {"{\"format\": \"xfer-bank\", \"version\": 2, \"models\": []}", XF_ERR_UNSUPPORTED, "newer"},
        {"{\"format\": \"xfer-bank\", \"version\": 0.5, \"models\": []}", XF_ERR_FORMAT, "'version'"},
        {"{\"format\": \"xfer-bank\", \"version\": 1, \"models\": {}}", XF_ERR_FORMAT, "'models'"},
        {"{\"format\": \"xfer-bank\", \"version\": 1, \"models\": [3]}", XF_ERR_FORMAT, "not an object"},
        {NULL, 0, NULL}};
    for (int k = 0; cases[k].json; k++) {
        write_text(p, cases[k].json);
        xf_bank_t *b = NULL;
        CHECK_ST(ctx, xf_bank_open(ctx, dir, &b), cases[k].st);
        CHECK(b == NULL && strstr(xf_errmsg(ctx), cases[k].word) && strstr(xf_errmsg(ctx), "bank.json"),
              "case %d: message '%s' lacks '%s'", k, xf_errmsg(ctx), cases[k].word);
    }
    /* entries: {name, file, rest, input} with one thing wrong */
    static struct { const char *name, *file, *extra, *input, *word; } ent[] = {
        {"\"name\": \"a\",", "\"file\": \"../convnet.onnx\",", "", NULL, "leaves the bank folder"},
        {"\"name\": \"a\",", "\"file\": \"/etc/convnet.onnx\",", "", NULL, "leaves the bank folder"},
        {"\"name\": \"\",", "\"file\": \"convnet.onnx\",", "", NULL, "'name' must be a non-empty string"},
        {"", "\"file\": \"convnet.onnx\",", "", NULL, "'name' is missing"},
        {"\"name\": \"a\",", "", "", NULL, "'file' is missing"},
        {"\"name\": 7,", "\"file\": \"convnet.onnx\",", "", NULL, "'name' must be"},
        {"\"name\": \"a\",", "\"file\": \"convnet.onnx\",", "", "\"input\": {\"channels\": 0, \"height\": 16, \"width\": 16, \"mean\": [0], \"std\": [1]}", "'input.channels'"},
        {"\"name\": \"a\",", "\"file\": \"convnet.onnx\",", "", "\"input\": {\"channels\": 1, \"height\": 16, \"mean\": [0], \"std\": [1]}", "'input.width' is missing"},
        {"\"name\": \"a\",", "\"file\": \"convnet.onnx\",", "", "\"input\": {\"channels\": 1, \"height\": 16, \"width\": 16, \"mean\": [0], \"std\": [-1]}", "'input.std'"},
        {"\"name\": \"a\",", "\"file\": \"convnet.onnx\",", "", "\"input\": {\"channels\": 3, \"height\": 16, \"width\": 16, \"mean\": [0, 0], \"std\": [1]}", "'input.mean'"},
        {"\"name\": \"a\",", "\"file\": \"convnet.onnx\",", "", "\"input\": 4", "'input' must be an object"},
        {NULL, NULL, NULL, NULL, NULL}};
    for (int k = 0; ent[k].word; k++) {
        char json[2048];
        snprintf(json, sizeof json, "{\"format\": \"xfer-bank\", \"version\": 1, \"models\": [{%s %s %s, %s}]}", ent[k].name,
                 ent[k].file, H, ent[k].input ? ent[k].input : good_in);
        write_text(p, json);
        xf_bank_t *b = NULL;
        CHECK_ST(ctx, xf_bank_open(ctx, dir, &b), XF_ERR_FORMAT);
        CHECK(strstr(xf_errmsg(ctx), ent[k].word) && strstr(xf_errmsg(ctx), "models[0]"), "entry case %d: '%s' lacks '%s'", k,
              xf_errmsg(ctx), ent[k].word);
    }
    /* one key at a time: wrong type, bad value, missing */
    static struct { const char *key, *bad, *word; } keys[] = {
        {"sha256", "\"D8C5\"", "64 lower-case hex"}, {"layers", "-1", "'layers' must be an integer >= 0"},
        {"params", "1.5", "'params' must be"}, {"source_classes", "0", "'source_classes'"},
        {"feature_tensor", "[]", "'feature_tensor'"}, {"architecture", "null", "'architecture'"},
        {NULL, NULL, NULL}};
    for (int k = 0; keys[k].key; k++) {
        cJSON *e = cJSON_Parse("{}");
        char json[2048];
        snprintf(json, sizeof json, "{\"name\": \"a\", \"file\": \"convnet.onnx\", %s, %s}", H, good_in);
        cJSON_Delete(e);
        e = cJSON_Parse(json);
        cJSON_ReplaceItemInObject(e, keys[k].key, cJSON_Parse(keys[k].bad));
        cJSON *root = cJSON_Parse("{\"format\": \"xfer-bank\", \"version\": 1, \"models\": []}");
        cJSON_AddItemToArray(cJSON_GetObjectItem(root, "models"), e);
        char *t = cJSON_Print(root);
        write_text(p, t);
        free(t);
        xf_bank_t *b = NULL;
        CHECK_ST(ctx, xf_bank_open(ctx, dir, &b), XF_ERR_FORMAT);
        CHECK(strstr(xf_errmsg(ctx), keys[k].word) != NULL, "%s: '%s' lacks '%s'", keys[k].key, xf_errmsg(ctx), keys[k].word);
        cJSON_DeleteItemFromObject(e, keys[k].key);
        t = cJSON_Print(root);
        write_text(p, t);
        free(t);
        CHECK_ST(ctx, xf_bank_open(ctx, dir, &b), XF_ERR_FORMAT);
        CHECK(strstr(xf_errmsg(ctx), "is missing") != NULL, "missing %s: '%s'", keys[k].key, xf_errmsg(ctx));
        cJSON_Delete(root);
    }
    /* duplicates */
    char json[4096];
    snprintf(json, sizeof json, "{\"format\": \"xfer-bank\", \"version\": 1, \"models\": [{\"name\": \"a\", \"file\": \"convnet.onnx\", %s, %s}, {\"name\": \"a\", \"file\": \"b.onnx\", %s, %s}]}", H, good_in, H, good_in);
    write_text(p, json);
    CHECK_ST(ctx, xf_bank_open(ctx, dir, &(xf_bank_t *){NULL}), XF_ERR_FORMAT);
    CHECK(strstr(xf_errmsg(ctx), "both named 'a'") != NULL, "duplicate name: %s", xf_errmsg(ctx));
    snprintf(json, sizeof json, "{\"format\": \"xfer-bank\", \"version\": 1, \"models\": [{\"name\": \"a\", \"file\": \"convnet.onnx\", %s, %s}, {\"name\": \"b\", \"file\": \"convnet.onnx\", %s, %s}]}", H, good_in, H, good_in);
    write_text(p, json);
    CHECK_ST(ctx, xf_bank_open(ctx, dir, &(xf_bank_t *){NULL}), XF_ERR_FORMAT);
    CHECK(strstr(xf_errmsg(ctx), "both file 'convnet.onnx'") != NULL, "duplicate file: %s", xf_errmsg(ctx));
    /* an empty bank opens (rank refuses it), init refuses to write one */
    write_text(p, "{\"format\": \"xfer-bank\", \"version\": 1, \"models\": []}");
    xf_bank_t *b = NULL;
    CHECK_OK(ctx, xf_bank_open(ctx, dir, &b));
    CHECK(xf_bank_count(b) == 0, "empty bank");
    xf_bank_free(b);
    char empty[1024];
    make_bank("bank_empty", empty, sizeof empty, 0);
    CHECK_ST(ctx, xf_bank_init(ctx, empty, NULL), XF_ERR_NOTFOUND);
    CHECK(strstr(xf_errmsg(ctx), "no *.onnx") != NULL, "empty init: %s", xf_errmsg(ctx));
    CHECK_ST(ctx, xf_bank_init(ctx, "/nonexistent/bank", NULL), XF_ERR_NOTFOUND);
    /* init refuses a broken bank.json (and leaves it alone) and an entry whose file is gone */
    write_text(p, "{\"models\": [");
    CHECK_ST(ctx, xf_bank_init(ctx, dir, NULL), XF_ERR_FORMAT);
    char *t = read_text(p);
    CHECK(t && !strcmp(t, "{\"models\": ["), "a bad bank.json is left as it was");
    free(t);
    write_text(p, "{\"models\": [{\"file\": \"gone.onnx\"}]}");
    CHECK_ST(ctx, xf_bank_init(ctx, dir, NULL), XF_ERR_NOTFOUND);
    CHECK(strstr(xf_errmsg(ctx), "gone.onnx") != NULL, "missing file: %s", xf_errmsg(ctx));
    write_text(p, "{\"models\": [{\"file\": \"convnet.onnx\", \"layers\": \"three\"}]}");
    CHECK_ST(ctx, xf_bank_init(ctx, dir, NULL), XF_ERR_FORMAT);
    CHECK(strstr(xf_errmsg(ctx), "'layers'") != NULL, "init checks present keys: %s", xf_errmsg(ctx));
    /* a model that is not ONNX */
    char bad[1200];
    snprintf(bad, sizeof bad, "%s/broken.onnx", dir);
    write_text(bad, "not a model");
    remove(p);
    CHECK(xf_bank_init(ctx, dir, NULL) != XF_OK && strstr(xf_errmsg(ctx), "broken.onnx"), "broken model named: %s", xf_errmsg(ctx));
}

/* A bank.json that lies: xf_bank_load and xf_bank_verify say so, naming the file. */
static void test_lies(xf_ctx_t *ctx) {
    char dir[1024], p[1200];
    make_bank("bank_lies", dir, sizeof dir, 3);
    CHECK_OK(ctx, xf_bank_init(ctx, dir, NULL));
    snprintf(p, sizeof p, "%s/bank.json", dir);
    char *orig = read_text(p);
    static struct { const char *key, *value, *word; int load_fails; } lies[] = {
        {"sha256", "\"0000000000000000000000000000000000000000000000000000000000000000\"", "SHA-256", 1},
        {"feature_tensor", "\"no_such_tensor\"", "feature_tensor 'no_such_tensor'", 1},
        {"feature_tensor", "\"fc.weight\"", "feature_tensor 'fc.weight'", 1},
        {"logits_tensor", "\"nope\"", "logits_tensor 'nope'", 1},
        {"source_classes", "7", "source_classes is 7", 1},
        {"layers", "9", "weighted layers, bank.json says 9", 0},
        {"params", "5", "parameters, bank.json says 5", 0},
        {NULL, NULL, NULL, 0}};
    for (int k = 0; lies[k].key && orig; k++) {
        cJSON *root = cJSON_Parse(orig);
        cJSON *e = cJSON_GetArrayItem(cJSON_GetObjectItem(root, "models"), 0); /* convnet */
        cJSON_ReplaceItemInObject(e, lies[k].key, cJSON_Parse(lies[k].value));
        char *t = cJSON_Print(root);
        write_text(p, t);
        free(t);
        cJSON_Delete(root);
        xf_bank_t *b = NULL;
        CHECK_OK(ctx, xf_bank_open(ctx, dir, &b));
        if (!b) continue;
        xf_graph *g = NULL;
        xf_status st = xf_bank_load(ctx, b, 0, 1, &g, NULL, NULL);
        CHECK((st != XF_OK) == lies[k].load_fails, "lie %d (%s): load -> %s", k, lies[k].key, xf_status_str(st));
        if (st) CHECK(strstr(xf_errmsg(ctx), lies[k].word) && strstr(xf_errmsg(ctx), "convnet.onnx"), "lie %d: '%s'", k, xf_errmsg(ctx));
        xf_graph_free(g);
        int64_t np = 0;
        CHECK_OK(ctx, xf_bank_verify(ctx, b, NULL, NULL, &np));
        CHECK(np == 1 && strstr(xf_errmsg(ctx), lies[k].word), "lie %d: verify %lld problems, last '%s'", k, (long long)np, xf_errmsg(ctx));
        /* the other models are fine */
        CHECK_OK(ctx, xf_bank_load(ctx, b, 1, 1, &g, NULL, NULL));
        xf_graph_free(g);
        xf_bank_free(b);
    }
    /* input shape lie, a model not in bank.json, a truncated model */
    if (orig) {
        cJSON *root = cJSON_Parse(orig);
        cJSON *in = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(root, "models"), 1), "input");
        cJSON_ReplaceItemInObject(in, "height", cJSON_CreateNumber(32));
        char *t = cJSON_Print(root);
        write_text(p, t);
        free(t);
        cJSON_Delete(root);
    }
    char extra[1200], trunc[1200];
    snprintf(extra, sizeof extra, "%s/stray.onnx", dir);
    write_text(extra, "x");
    xf_bank_t *b = NULL;
    CHECK_OK(ctx, xf_bank_open(ctx, dir, &b));
    xf_graph *g = NULL;
    CHECK_ST(ctx, xf_bank_load(ctx, b, 1, 0, &g, NULL, NULL), XF_ERR_SHAPE);
    CHECK(strstr(xf_errmsg(ctx), "bank.json says (N, 1, 32, 16)") != NULL, "input lie: %s", xf_errmsg(ctx));
    int64_t np = 0;
    CHECK_OK(ctx, xf_bank_verify(ctx, b, NULL, NULL, &np));
    CHECK(np == 2 && strstr(xf_errmsg(ctx), "stray.onnx: not in bank.json"), "stray: %lld '%s'", (long long)np, xf_errmsg(ctx));
    /* truncate resblock: load without hash check fails in the importer, naming it */
    snprintf(trunc, sizeof trunc, "%s/resblock.onnx", dir);
    if (truncate(trunc, 100) != 0) perror("truncate");
    CHECK(xf_bank_load(ctx, b, 2, 0, &g, NULL, NULL) != XF_OK && strstr(xf_errmsg(ctx), "resblock.onnx"), "truncated: %s", xf_errmsg(ctx));
    xf_bank_free(b);
    free(orig);
}

/* Every allocation of open/init failing in turn: an error, never a crash or a leak. */
static void test_alloc_failures(void) {
    char dir[1024];
    make_bank("bank_alloc", dir, sizeof dir, 2);
    xf_ctx_t *c0;
    xf_ctx_create(&c0);
    xf_bank_init(c0, dir, NULL);
    xf_ctx_free(c0);
    int ok_at = 0;
    for (int k = 1; k < 400 && !ok_at; k++) {
        xf_ctx_t *ctx;
        xf_ctx_create(&ctx);
        xf_ctx_fail_alloc_after(ctx, k);
        xf_bank_t *b = NULL;
        xf_status st = xf_bank_open(ctx, dir, &b);
        if (st == XF_OK) ok_at = k;
        else CHECK(b == NULL && st == XF_ERR_NOMEM, "alloc %d: %s", k, xf_status_str(st));
        xf_bank_free(b);
        xf_ctx_free(ctx);
    }
    CHECK(ok_at > 1, "open succeeded once allocations were allowed (%d)", ok_at);
}

int main(void) {
    xf_ctx_t *ctx;
    if (xf_ctx_create(&ctx) != XF_OK) return 1;
    test_sha256(ctx);
    test_init_matches_reference(ctx);
    test_init_keeps_keys(ctx);
    test_bad_json(ctx);
    test_lies(ctx);
    test_alloc_failures();
    xf_ctx_free(ctx);
    return xt_done("test_bank");
}
