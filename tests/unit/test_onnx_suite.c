/* ONNX's own backend test suite (Debian libonnx-testdata) through the importer and the
 * engine. Every test under <root>/{node,pytorch-converted,pytorch-operator,simple} whose
 * model has one graph input (besides initializers), float32 of rank 4, and one output is
 * imported; each test_data_set_* input_0.pb is run and the output compared with
 * output_0.pb:  max_i |got_i - want_i| <= REL_TOL * max_i |want_i|  (and the same element
 * count; a Flatten past axis 1 keeps the batch dimension apart, see onnx_import_ops.c, so
 * only the count and the C-order data are compared).
 *
 * Outcome per test: equal, refused (import or net creation failed with a message: one
 * line printed per refusal) or different (ran and disagreed, or the output has another
 * size). The program fails if any test is different, if a refusal message is not one line,
 * or if fewer than EQUAL_FLOOR are equal; a crash fails it too. Root: $XF_ONNX_TESTDATA or
 * /usr/share/libonnx-testdata/data; if absent the test is skipped (exit 77, CTest's
 * SKIP_RETURN_CODE) with a message saying what to install. */
#include <dirent.h>
#include <errno.h>

#include "onnx/onnx.pb-c.h"
#include "xfer/onnx.h"
#include "xtest.h"

#define REL_TOL 1e-4
#define EQUAL_FLOOR 85
#define SKIP_CODE 77

static int name_cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* sorted entries of a directory (caller frees); NULL if it cannot be read */
static char **list_dir(const char *path, int *n) {
    DIR *d = opendir(path);
    *n = 0;
    if (!d) return NULL;
    int cap = 64;
    char **v = malloc(sizeof *v * (size_t)cap);
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        if (*n == cap) v = realloc(v, sizeof *v * (size_t)(cap *= 2));
        v[(*n)++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(v, (size_t)*n, sizeof *v, name_cmp);
    return v;
}
static void free_list(char **v, int n) {
    for (int i = 0; i < n; i++) free(v[i]);
    free(v);
}

static unsigned char *slurp(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(sz > 0 ? (size_t)sz : 1);
    *len = fread(b, 1, (size_t)(sz > 0 ? sz : 0), f);
    fclose(f);
    return b;
}

/* The suite's selection, read from the model itself (not from what xfer accepts): one
 * non-initializer input, float32, rank 4; one output. */
static int selected(const char *model) {
    size_t len;
    unsigned char *b = slurp(model, &len);
    if (!b) return 0;
    Onnx__ModelProto *mp = onnx__model_proto__unpack(NULL, len, b);
    free(b);
    if (!mp) return 0;
    int ok = 0;
    const Onnx__GraphProto *gp = mp->graph;
    if (gp && gp->n_output == 1) {
        int n_in = 0;
        const Onnx__ValueInfoProto *in = NULL;
        for (size_t k = 0; k < gp->n_input; k++) {
            int init = 0;
            for (size_t j = 0; j < gp->n_initializer && !init; j++)
                init = gp->initializer[j]->name && gp->input[k]->name && !strcmp(gp->initializer[j]->name, gp->input[k]->name);
            if (!init) n_in++, in = gp->input[k];
        }
        const Onnx__TypeProto *tp = in ? in->type : NULL;
        ok = n_in == 1 && tp && tp->value_case == ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE && tp->tensor_type &&
             tp->tensor_type->elem_type == ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT && tp->tensor_type->shape &&
             tp->tensor_type->shape->n_dim == 4;
    }
    onnx__model_proto__free_unpacked(mp, NULL);
    return ok;
}

typedef enum { EQUAL, REFUSED, DIFFERENT } outcome;

/* Runs one data set; REFUSED only for a failure that carries a message (net planning). */
static outcome run_set(xf_ctx_t *ctx, xf_graph *g, const char *dir, const char *label, char *why, size_t cap) {
    char p[1024];
    xf_array x, y;
    snprintf(p, sizeof p, "%s/input_0.pb", dir);
    if (xf_onnx_tensor_read(ctx, p, &x)) {
        snprintf(why, cap, "input: %s", xf_errmsg(ctx));
        return DIFFERENT;
    }
    snprintf(p, sizeof p, "%s/output_0.pb", dir);
    if (xf_onnx_tensor_read(ctx, p, &y)) {
        snprintf(why, cap, "output: %s", xf_errmsg(ctx));
        xf_array_free(ctx, &x);
        return DIFFERENT;
    }
    outcome r = DIFFERENT;
    xf_net_t *net = NULL;
    const xf_value *iv = &g->values[g->input];
    int ok = x.ndim == iv->ndim;
    for (int k = 1; ok && k < x.ndim; k++) ok = x.shape[k] == iv->shape[k];
    if (!ok) {
        snprintf(why, cap, "input_0.pb does not have the model's input shape");
    } else if (xf_net_create(ctx, g, x.shape[0], XF_NET_INFER, &net)) {
        snprintf(why, cap, "%s", xf_errmsg(ctx));
        r = REFUSED;
    } else if (xf_net_forward(net, x.data, x.shape[0])) {
        snprintf(why, cap, "forward: %s", xf_errmsg(ctx));
    } else {
        int o = g->outputs[0], nd;
        int64_t s[XF_NN_MAXDIM], n = 1;
        const float *got = xf_net_data(net, o);
        xf_net_shape(net, o, &nd, s);
        for (int k = 0; k < nd; k++) n *= s[k];
        if (!got || n != y.size) {
            snprintf(why, cap, "output has %lld elements, %lld expected", (long long)n, (long long)y.size);
        } else {
            const float *want = y.data;
            double md = 0, mw = 0;
            int64_t at = 0;
            for (int64_t i = 0; i < n; i++) {
                double d = fabs((double)got[i] - want[i]);
                if (!(d <= md)) md = d, at = i; /* NaN counts as the worst */
                if (fabs(want[i]) > mw) mw = fabs(want[i]);
            }
            if (md <= REL_TOL * (mw > 0 ? mw : 1.0)) r = EQUAL;
            else snprintf(why, cap, "max |difference| %g at %lld (got %g, want %g; scale %g)", md, (long long)at, got[at],
                          want[at], mw);
        }
    }
    (void)label;
    xf_net_free(net);
    xf_array_free(ctx, &x);
    xf_array_free(ctx, &y);
    return r;
}

int main(void) {
    const char *root = getenv("XF_ONNX_TESTDATA");
    if (!root || !root[0]) root = "/usr/share/libonnx-testdata/data";
    DIR *probe = opendir(root);
    if (!probe) {
        printf("SKIP: ONNX backend test data not found at %s (%s); install the Debian package libonnx-testdata "
               "(scripts/install-deps.sh test)\n", root, strerror(errno));
        return SKIP_CODE;
    }
    closedir(probe);
    xf_ctx_t *ctx;
    if (xf_ctx_create(&ctx)) return 1;
    xf_ctx_set_threads(ctx, 2);
    static const char *subs[] = {"node", "pytorch-converted", "pytorch-operator", "simple"};
    int cnt[3] = {0, 0, 0}, total = 0;
    for (int si = 0; si < 4; si++) {
        char sd[1024];
        snprintf(sd, sizeof sd, "%s/%s", root, subs[si]);
        int nt;
        char **tests = list_dir(sd, &nt);
        CHECK(tests != NULL, "%s: cannot be listed", sd);
        for (int ti = 0; ti < nt; ti++) {
            char td[1200], model[1300], label[300];
            snprintf(td, sizeof td, "%s/%s", sd, tests[ti]);
            snprintf(model, sizeof model, "%s/model.onnx", td);
            snprintf(label, sizeof label, "%s/%s", subs[si], tests[ti]);
            if (!selected(model)) continue;
            total++;
            char why[1024] = "";
            outcome r;
            xf_graph *g = NULL;
            if (xf_onnx_import(ctx, model, &g)) {
                snprintf(why, sizeof why, "%s", xf_errmsg(ctx));
                r = REFUSED;
            } else {
                int ns;
                char **sets = list_dir(td, &ns);
                int runs = 0;
                r = EQUAL;
                for (int k = 0; k < ns && r == EQUAL; k++) {
                    if (strncmp(sets[k], "test_data_set_", 14)) continue;
                    char dd[1500];
                    snprintf(dd, sizeof dd, "%s/%s", td, sets[k]);
                    r = run_set(ctx, g, dd, label, why, sizeof why);
                    runs++;
                }
                if (!runs) r = DIFFERENT, snprintf(why, sizeof why, "no test_data_set_*");
                free_list(sets, ns);
            }
            xf_graph_free(g);
            cnt[r]++;
            if (r == REFUSED) {
                /* a refusal is one clear line */
                CHECK(why[0] && !strchr(why, '\n'), "%s: refusal message is empty or not one line", label);
                printf("refused   %s: %s\n", label, why);
            } else if (r == DIFFERENT) {
                printf("DIFFERENT %s: %s\n", label, why);
            }
            fflush(stdout);
        }
        free_list(tests, nt);
    }
    printf("onnx suite: %d tests with one 4-D float input: %d equal, %d refused, %d different\n", total, cnt[EQUAL],
           cnt[REFUSED], cnt[DIFFERENT]);
    CHECK(cnt[DIFFERENT] == 0, "%d tests give a different output", cnt[DIFFERENT]);
    CHECK(cnt[EQUAL] >= EQUAL_FLOOR, "%d equal, at least %d expected", cnt[EQUAL], EQUAL_FLOOR);
    xf_ctx_free(ctx);
    return xt_done("test_onnx_suite");
}
