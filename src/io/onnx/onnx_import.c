/* ONNX -> xf_graph importer.
 *
 * Design: one pass over the (topologically sorted) ONNX nodes with a name table. Every
 * ONNX tensor name maps to either an activation (a value of the xf_graph, with its shape
 * inferred here as nodes are emitted: batch dimension -1) or a constant held by the
 * importer (initializers, Constant nodes, folded shape arithmetic). Constants carry int64
 * or float data plus a per-element "batch" flag, so the shape arithmetic PyTorch exports
 * (Shape -> Gather -> Unsqueeze -> Concat -> Reshape) folds to a static Reshape target in
 * which the entry that came from the batch dimension becomes 0 (copy) or -1 (infer).
 * A constant becomes a graph parameter only when a runtime op consumes it, so unused
 * initializers and shape tensors never reach the graph.
 *
 * Opsets 1..10 (the classic CNNs of the ONNX Model Zoo): BatchNormalization is_test /
 * spatial, Add/Mul/Sub/Div legacy broadcast with axis, PRelu per channel, Reshape's shape
 * and Pad's paddings attributes, Concat's default axis, Upsample; the classic operators
 * themselves (LRN, PRelu, ConvTranspose, ...) are in onnx_import_classic.c.
 * Opset differences handled (11..18): Clip min/max and Pad pads as inputs, Softmax's 2-D
 * coercion before 13 (rewritten Flatten -> Softmax -> Reshape when it matters),
 * Unsqueeze/Squeeze/ReduceMean axes as attribute or input, Reshape allowzero (14),
 * Shape start/end (15), Pad axes (18), GroupNormalization (18; per-group scale expanded
 * to per-channel). Below 18 PyTorch writes GroupNorm as Reshape(0,G,-1) ->
 * InstanceNormalization(ones, zeros) -> Reshape(Shape(x)) -> Mul(w) -> Add(b); that
 * pattern is recognised and emitted as one XF_OP_GROUPNORM (trainable, exportable); a
 * partial match falls back to the literal ops. BatchNormalization is kept (not folded
 * into Conv) so fine-tuning sees it. ReduceMean over H,W becomes GlobalAveragePool.
 * Sub/Div by a constant become Add/Mul by the negated/reciprocal constant.
 *
 * Untrusted input: the wire format is pre-scanned for nesting depth, protobuf-c
 * allocations go through the context, every element count is checked for overflow and
 * against the bytes present before any buffer is allocated, external data must resolve
 * (after symlinks) inside the model's directory and fit the file. Errors are one line:
 * "<file>: node '<name>' (op <Op>): <problem>". */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "xfer/files.h"
#include "onnx_importInt.h"

/* ---------------------------------------------------------------------------------- */
/* driver                                                                             */

static xf_status import_graph(imp *m, const Onnx__ModelProto *mp) {
    xf_ctx_t *ctx = m->ctx;
    const Onnx__GraphProto *gp = mp->graph;
    xf_status st;
    if (!gp) return XF_ERR(ctx, XF_ERR_FORMAT, "%s: no graph (not an ONNX model?)", m->file);
    m->gp = gp;
    /* opset of the default domain */
    m->opset = -1;
    for (size_t k = 0; k < mp->n_opset_import; k++) {
        const Onnx__OperatorSetIdProto *o = mp->opset_import[k];
        if (!o->domain || !o->domain[0] || !strcmp(o->domain, "ai.onnx")) m->opset = o->has_version ? o->version : -1;
    }
    if (m->opset < 0) return XF_ERR(ctx, XF_ERR_FORMAT, "%s: no opset for the default ONNX domain", m->file);
    if (m->opset < XF_ONNX_OPSET_MIN || m->opset > XF_ONNX_OPSET_MAX)
        return XF_ERR(ctx, XF_ERR_UNSUPPORTED, "%s: opset %lld is not supported (%d..%d)", m->file, (long long)m->opset,
                      XF_ONNX_OPSET_MIN, XF_ONNX_OPSET_MAX);
    if (gp->n_node == 0) return XF_ERR(ctx, XF_ERR_FORMAT, "%s: the graph has no nodes", m->file);
    size_t names = gp->n_initializer + gp->n_input + 1;
    for (size_t j = 0; j < gp->n_node; j++) names += gp->node[j]->n_output;
    if (names > (size_t)INT_MAX / 2) return XF_ERR(ctx, XF_ERR_FORMAT, "%s: too many tensors", m->file);
    m->capv = (int)names;
    m->v = xf_calloc(ctx, names, sizeof *m->v);
    if (!m->v) return XF_ERR_NOMEM;
    if ((st = xf_graph_create(ctx, &m->g))) return st;
    m->g->opset = m->opset;
    if (gp->name && gp->name[0]) {
        size_t l = strlen(gp->name);
        m->g->name = xf_malloc(ctx, l + 1);
        if (!m->g->name) return XF_ERR_NOMEM;
        memcpy(m->g->name, gp->name, l + 1);
    }
    /* initializers; each one's raw bytes are released once converted, so a big model
     * is not held twice */
    for (size_t k = 0; k < gp->n_initializer; k++) {
        Onnx__TensorProto *t = gp->initializer[k];
        imp_val *v;
        if ((st = xf_onnx_val_new(m, t->name, &v))) return st;
        if ((st = xf_onnx_load_tensor(m, t, v))) return st;
        if (t->has_raw_data && t->raw_data.data && m->pa) {
            m->pa->free(m->pa->allocator_data, t->raw_data.data);
            t->raw_data.data = NULL;
            t->raw_data.len = 0;
            t->has_raw_data = 0;
        }
    }
    /* the image input: the one graph input that is not an initializer */
    int found = 0;
    for (size_t k = 0; k < gp->n_input; k++) {
        const Onnx__ValueInfoProto *vi = gp->input[k];
        if (!vi->name || xf_onnx_tab_find(m, vi->name) >= 0) continue;
        if (found) return XF_ERR(ctx, XF_ERR_UNSUPPORTED, "%s: more than one graph input ('%s')", m->file, vi->name);
        found = 1;
        const Onnx__TypeProto *tp = vi->type;
        if (!tp || tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !tp->tensor_type || !tp->tensor_type->shape)
            return XF_ERR(ctx, XF_ERR_UNSUPPORTED, "%s: input '%s' has no tensor shape", m->file, vi->name);
        if (tp->tensor_type->has_elem_type && tp->tensor_type->elem_type != ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT)
            return XF_ERR(ctx, XF_ERR_UNSUPPORTED, "%s: input '%s' is not float32", m->file, vi->name);
        const Onnx__TensorShapeProto *sp = tp->tensor_type->shape;
        if (sp->n_dim < 2 || sp->n_dim > MAXD)
            return XF_ERR(ctx, XF_ERR_UNSUPPORTED, "%s: input '%s' has rank %zu", m->file, vi->name, sp->n_dim);
        int64_t s[MAXD];
        for (size_t j = 0; j < sp->n_dim; j++) {
            const Onnx__TensorShapeProto__Dimension *d = sp->dim[j];
            int known = d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE && d->dim_value > 0;
            if (j == 0) {
                s[0] = -1;
                m->model_batch = known ? d->dim_value : 0;
            } else if (!known || d->dim_value > (1 << 24))
                return XF_ERR(ctx, XF_ERR_UNSUPPORTED, "%s: input '%s': dimension %zu is not a fixed size", m->file,
                              vi->name, j);
            else
                s[j] = d->dim_value;
        }
        imp_val *v;
        if ((st = xf_onnx_act_new(m, vi->name, (int)sp->n_dim, s, &v))) return st;
        m->g->input = v->vid;
    }
    if (!found) return XF_ERR(ctx, XF_ERR_FORMAT, "%s: the graph has no input besides initializers", m->file);
    if (gp->n_output < 1) return XF_ERR(ctx, XF_ERR_FORMAT, "%s: the graph has no outputs", m->file);
    m->skip = xf_calloc(ctx, gp->n_node, 1);
    if (!m->skip) return XF_ERR_NOMEM;
    /* Constant nodes first: they have no inputs, and patterns (GroupNorm) look ahead at
     * constants PyTorch places after the node where the pattern starts */
    for (size_t j = 0; j < gp->n_node; j++) {
        const Onnx__NodeProto *n = gp->node[j];
        if (!n->op_type || strcmp(n->op_type, "Constant") || n->n_input || (n->domain && n->domain[0])) continue;
        m->node = n;
        m->node_idx = (int)j;
        int done = 0;
        if ((st = xf_onnx_try_fold(m, &done))) return st;
        m->skip[j] = 1;
    }
    /* nodes */
    int out_uses[16];
    for (size_t j = 0; j < gp->n_node; j++) {
        if (m->skip[j]) continue;
        m->node = gp->node[j];
        m->node_idx = (int)j;
        const Onnx__NodeProto *n = m->node;
        if (!n->op_type || !n->op_type[0]) {
            char nb[256];
            return XF_ERR(ctx, XF_ERR_FORMAT, "%s: node '%s' has no op type", m->file, node_label(m, nb, sizeof nb));
        }
        if (n->n_input > 1024 || n->n_output > 16) NERR(m, XF_ERR_FORMAT, "%zu inputs, %zu outputs", n->n_input, n->n_output);
        /* which extra outputs are used (by later nodes or as graph outputs) */
        for (size_t k = 0; k < n->n_output; k++) {
            out_uses[k] = 0;
            const char *on = n->output[k];
            if (!on || !on[0]) continue;
            for (size_t q = 0; q < gp->n_output && !out_uses[k]; q++)
                if (gp->output[q]->name && !strcmp(gp->output[q]->name, on)) out_uses[k] = 1;
            if (k > 0)
                for (size_t q = j + 1; q < gp->n_node && !out_uses[k]; q++)
                    for (size_t r = 0; r < gp->node[q]->n_input; r++)
                        if (gp->node[q]->input[r] && !strcmp(gp->node[q]->input[r], on)) { out_uses[k] = 1; break; }
        }
        for (size_t k = 0; k < n->n_input; k++) { /* see imp_val.batch_merged */
            int vi = n->input[k] && n->input[k][0] ? xf_onnx_tab_find(m, n->input[k]) : -1;
            if (vi >= 0 && m->v[vi].batch_merged)
                NERR(m, XF_ERR_UNSUPPORTED, "input '%s' merges the batch dimension (Flatten past axis 1); only a graph output may",
                     n->input[k]);
        }
        if (m->opset < 7 && n->n_input == 2 && attr(n, "axis") && attr_i(n, "broadcast", 0)) {
            imp_val *a0 = xf_onnx_in_val(m, 0), *a1 = xf_onnx_in_val(m, 1);
            if (is_const(a0) && is_const(a1)) NERR(m, XF_ERR_UNSUPPORTED, "legacy broadcast (axis) between constants");
        }
        int done = 0;
        int dom_ok = !n->domain || !n->domain[0] || !strcmp(n->domain, "ai.onnx");
        if (dom_ok && (st = xf_onnx_try_fold(m, &done))) return st;
        if (done) continue;
        if ((st = xf_onnx_import_node(m, out_uses))) return st;
    }
    /* outputs */
    m->g->outputs = xf_calloc(ctx, gp->n_output, sizeof *m->g->outputs);
    if (!m->g->outputs) return XF_ERR_NOMEM;
    for (size_t k = 0; k < gp->n_output; k++) {
        const char *on = gp->output[k]->name;
        int j = xf_onnx_tab_find(m, on);
        if (j < 0) return XF_ERR(ctx, XF_ERR_FORMAT, "%s: graph output '%s' is not produced by any node", m->file, on ? on : "");
        if (m->v[j].kind != IV_ACT)
            return XF_ERR(ctx, XF_ERR_UNSUPPORTED, "%s: graph output '%s' is a constant", m->file, on);
        m->g->outputs[m->g->n_outputs++] = m->v[j].vid;
    }
    st = xf_graph_infer_shapes(m->g);
    if (st) xf_error_prefix(ctx, m->file);
    return st;
}

static void imp_cleanup(imp *m) {
    for (int k = 0; k < m->nv; k++) xf_onnx_const_free(m, &m->v[k]);
    xf_free(m->ctx, m->v);
    xf_free(m->ctx, m->tab);
    xf_free(m->ctx, m->skip);
}

static xf_status import_buf(xf_ctx_t *ctx, const uint8_t *buf, size_t len, const char *name, const char *dir,
                            xf_graph **out) {
    *out = NULL;
    if (len == 0) return XF_ERR(ctx, XF_ERR_FORMAT, "%s: empty file", name);
    if (xf_onnx_wire_check(&onnx__model_proto__descriptor, buf, len, 0))
        return XF_ERR(ctx, XF_ERR_FORMAT, "%s: not an ONNX model (malformed protobuf or nesting deeper than %d)", name,
                      XF_ONNX_MAX_DEPTH);
    ProtobufCAllocator pa;
    xf_onnx_pb_allocator(ctx, &pa);
    Onnx__ModelProto *mp = onnx__model_proto__unpack(&pa, len, buf);
    if (!mp) {
        if (xf_last_status(ctx) == XF_ERR_NOMEM) return XF_ERR(ctx, XF_ERR_NOMEM, "%s: out of memory while parsing", name);
        return XF_ERR(ctx, XF_ERR_FORMAT, "%s: not an ONNX model (protobuf parse failed)", name);
    }
    imp m;
    memset(&m, 0, sizeof m);
    m.ctx = ctx;
    m.file = name;
    m.dir = dir;
    m.pa = &pa;
    xf_status st = import_graph(&m, mp);
    imp_cleanup(&m);
    onnx__model_proto__free_unpacked(mp, &pa);
    if (st) {
        if (st == XF_ERR_NOMEM && !strstr(xf_errmsg(ctx), name)) xf_error_prefix(ctx, name);
        xf_graph_free(m.g);
        return st;
    }
    *out = m.g;
    return XF_OK;
}

xf_status xf_onnx_import_mem(xf_ctx_t *ctx, const void *buf, size_t len, const char *name, xf_graph **out) {
    if (!ctx || !out || (!buf && len)) return ctx ? XF_ERR(ctx, XF_ERR_INVALID, "xf_onnx_import_mem: NULL argument") : XF_ERR_INVALID;
    return import_buf(ctx, buf, len, name ? name : "<memory>", NULL, out);
}

xf_status xf_onnx_import(xf_ctx_t *ctx, const char *path, xf_graph **out) {
    if (!ctx || !path || !out) return ctx ? XF_ERR(ctx, XF_ERR_INVALID, "xf_onnx_import: NULL argument") : XF_ERR_INVALID;
    *out = NULL;
    int fd;
    xf_status ost = xf_file_open_fd(ctx, path, &fd);
    if (ost) return ost;
    struct stat sb;
    if (fstat(fd, &sb)) {
        close(fd);
        return XF_ERR(ctx, XF_ERR_IO, "%s: cannot read: %s", path, strerror(errno));
    }
    size_t len = (size_t)sb.st_size;
    if (len == 0) {
        close(fd);
        return XF_ERR(ctx, XF_ERR_FORMAT, "%s: empty file", path);
    }
    /* mapped, not copied: a 500 MB model costs its page cache, not another buffer */
    void *map = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED) return XF_ERR(ctx, XF_ERR_IO, "%s: cannot map: %s", path, strerror(errno));
    char *dir = xf_malloc(ctx, strlen(path) + 2);
    xf_status st;
    if (!dir) st = XF_ERR_NOMEM;
    else {
        strcpy(dir, path);
        char *sl = strrchr(dir, '/');
        if (sl) *(sl == dir ? sl + 1 : sl) = 0;
        else strcpy(dir, ".");
        st = import_buf(ctx, map, len, path, dir, out);
    }
    xf_free(ctx, dir);
    munmap(map, len);
    return st;
}
