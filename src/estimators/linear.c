/* linear: the linear-probe proxy, accuracy (%) of a multinomial L2 logistic regression
 * trained on the first half of the probe and tested on the second (Bolya et al. 2021,
 * dbolya/parc methods.SplitLogistic; halves contiguous: the first N - floor(N/2) rows
 * train). folds = k > 1: the mean accuracy over k contiguous folds, fold f testing rows
 * [floor(f N / k), floor((f + 1) N / k)) after training on the others.
 *
 * Objective (sklearn LogisticRegression(multi_class='multinomial', solver='lbfgs', C)):
 *     min_{W, b}  sum_i [logsumexp_c(L_ic) - L_{i,y_i}] + 1/(2C) ||W||_F^2,  L = X W^T + b,
 * intercept b unpenalised, classes = those present in the training part (as sklearn's
 * LabelEncoder): a class absent from training is never predicted, and its test samples
 * count as errors. Fewer than 2 training classes is an error (sklearn raises too).
 * Prediction: argmax of L, ties to the smallest class.
 *
 * Solver: our own L-BFGS (memory 10, as scipy's L-BFGS-B) in float64, f and gradient by
 * two GEMMs (L = Z W^T; grad_W = (P - Y)^T Z + W / C), strong-Wolfe line search.
 * Stops when max |grad| <= tol (scipy's pgtol, which sklearn sets to tol), when the
 * relative decrease of f is <= 2.2e-9 (scipy's default ftol), or after max_iter
 * iterations. Defaults: max_iter=1000, tol=1e-6: converged, so the score is that of the
 * optimum and not of one solver's path (PARC ran 20 iterations with tol=0.1; the
 * accuracy of such an early stop depends on the optimiser). See docs/ESTIMATORS.md.
 *
 * When D > n_train the problem is solved in the row space of the training features:
 * with X_tr X_tr^T = Q diag(lam) Q^T, Z_tr = Q lam^{1/2} (n_train, r) and
 * Z_te = X_te X_tr^T Q lam^{-1/2}. W = W' V^T with V orthonormal, so ||W|| = ||W'||,
 * logits are unchanged, the optimum lies in that span (the gradient always does), and
 * L-BFGS (built from inner products) takes the same steps from W = 0. Eigenvalues below
 * RANK_TOL * lam_max are dropped (directions the data do not span).
 * Parameters: C=1, max_iter=1000, tol=1e-6, folds=0, dims=0, pca=exact, seed=1919. */
#include <float.h>
#include <math.h>
#include <string.h>

#include "estAInt.h"

enum { LBFGS_M = 10, LS_MAX = 60 };
static const double FTOL = 2.220446049250313e-09; /* scipy L-BFGS-B default ftol (factr 1e7 * eps) */
static const double ARMIJO_C1 = 1e-4;
static const double RANK_TOL = 1e-12; /* relative eigenvalue floor of the row-space basis */

typedef struct lr_prob {
    const double *Z; /* (n, r) training features */
    const int32_t *y; /* (n) compact training classes 0..K-1 */
    int64_t n, r, K;
    double lam;   /* 1 / C */
    double *L;    /* (n, K) scratch: logits, then P - Y */
} lr_prob;

/* f and gradient at theta = [W (K, r), b (K)]. */
static double lr_fg(const lr_prob *p, const double *th, double *g) {
    const int64_t n = p->n, r = p->r, K = p->K;
    const double *W = th, *b = th + K * r;
    xf_la_dgemm(0, 1, n, K, r, 1.0, p->Z, r, W, r, 0.0, p->L, K);
    double f = 0;
    for (int64_t i = 0; i < n; i++) {
        double *l = p->L + i * K, mx = -DBL_MAX, s = 0;
        for (int64_t c = 0; c < K; c++) { l[c] += b[c]; if (l[c] > mx) mx = l[c]; }
        for (int64_t c = 0; c < K; c++) s += exp(l[c] - mx);
        double lse = mx + log(s);
        f += lse - l[p->y[i]];
        for (int64_t c = 0; c < K; c++) l[c] = exp(l[c] - lse);
        l[p->y[i]] -= 1.0;
    }
    double w2 = 0;
    for (int64_t t = 0; t < K * r; t++) w2 += W[t] * W[t];
    f += 0.5 * p->lam * w2;
    /* grad W = (P - Y)^T Z + lam W; grad b = column sums of P - Y */
    memcpy(g, W, (size_t)(K * r) * sizeof *g);
    xf_la_dgemm(1, 0, K, r, n, 1.0, p->L, K, p->Z, r, p->lam, g, r);
    double *gb = g + K * r;
    for (int64_t c = 0; c < K; c++) gb[c] = 0;
    for (int64_t i = 0; i < n; i++)
        for (int64_t c = 0; c < K; c++) gb[c] += p->L[i * K + c];
    return f;
}

static double dot(const double *a, const double *b, int64_t n) {
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}
static double amax(const double *a, int64_t n) {
    double s = 0;
    for (int64_t i = 0; i < n; i++) if (fabs(a[i]) > s) s = fabs(a[i]);
    return s;
}

/* Scratch for all folds, allocated once at the largest sizes. */
typedef struct lr_scratch {
    int32_t *map, *inv, *ytr;       // (C), (C), (ntr)
    double *Xtr, *Xte;              // (ntr, d), (nte, d)
    double *Gm, *lam, *Kte;         // row-space path: (ntr, ntr), (ntr), (nte, ntr)
    double *Zt, *Qs, *Ze;           // (ntr, r), (ntr, r), (nte, r)
    double *L, *th;                 // (max(ntr, nte), C), (C (d + 1))
    double *g, *d, *thn, *gn, *S, *Y; // L-BFGS: 4 x (npar), 2 x (LBFGS_M, npar)
} lr_scratch;

/* Strong-Wolfe line search along d from th (f, slope gd < 0), Nocedal & Wright 2006,
 * Alg. 3.5 / 3.6 with safeguarded cubic interpolation: Armijo c1 = 1e-4 and curvature
 * |g(a).d| <= c2 |gd| with c2 = 0.9 (the constants of scipy's L-BFGS-B line search).
 * Accepted point and gradient in thn / gn (the last evaluation); returns 0 when no step
 * satisfying Armijo was found within LS_MAX evaluations. */
static const double WOLFE_C2 = 0.9;
static int wolfe_search(const lr_prob *p, const double *th, const double *d, double f, double gd, double a1,
                        double *thn, double *gn, double *fout, int64_t *ne) {
    const int64_t n = p->K * (p->r + 1);
    double alo = 0, flo = f, dlo = gd, ahi = 0, fhi = 0, dhi = 0, a = a1;
    int zoom = 0, armijo_last = 0;
    for (int ls = 0; ls < LS_MAX; ls++) {
        if (zoom) { /* cubic minimiser of the bracket, kept inside its middle 80% */
            double d1 = dlo + dhi - 3.0 * (flo - fhi) / (alo - ahi);
            double rad = d1 * d1 - dlo * dhi, lo = fmin(alo, ahi), w = fabs(ahi - alo);
            a = 0.5 * (alo + ahi);
            if (rad >= 0) {
                double d2 = copysign(sqrt(rad), ahi - alo);
                double c = ahi - (ahi - alo) * (dhi + d2 - d1) / (dhi - dlo + 2.0 * d2);
                if (isfinite(c)) a = c;
            }
            a = fmin(fmax(a, lo + 0.1 * w), lo + 0.9 * w);
        }
        for (int64_t t = 0; t < n; t++) thn[t] = th[t] + a * d[t];
        double fa = lr_fg(p, thn, gn), da = dot(gn, d, n);
        (*ne)++;
        *fout = fa;
        int arm = isfinite(fa) && fa <= f + ARMIJO_C1 * a * gd;
        armijo_last = arm;
        if (!zoom) {
            if (!arm || (ls > 0 && fa >= flo)) { zoom = 1; ahi = a; fhi = fa; dhi = da; continue; }
            if (fabs(da) <= -WOLFE_C2 * gd) return 1;
            if (da >= 0) { zoom = 1; ahi = alo; fhi = flo; dhi = dlo; alo = a; flo = fa; dlo = da; continue; }
            alo = a; flo = fa; dlo = da;
            a *= 2.0; /* still descending steeply: extrapolate */
        } else {
            if (!arm || fa >= flo) { ahi = a; fhi = fa; dhi = da; }
            else {
                if (fabs(da) <= -WOLFE_C2 * gd) return 1;
                if (da * (ahi - alo) >= 0) { ahi = alo; fhi = flo; dhi = dlo; }
                alo = a; flo = fa; dlo = da;
            }
            if (fabs(ahi - alo) <= 1e-16 * fmax(alo, ahi)) break;
        }
    }
    if (armijo_last) return 1;
    if (alo > 0) { /* the best Armijo point seen is the bracket's low end: re-evaluate it */
        for (int64_t t = 0; t < n; t++) thn[t] = th[t] + alo * d[t];
        *fout = lr_fg(p, thn, gn);
        (*ne)++;
        return 1;
    }
    return 0;
}

/* L-BFGS from theta = 0; *iters gets the number of iterations, *evals of f/g. */
static void lbfgs(const lr_scratch *w, const lr_prob *p, double *th, int64_t max_iter, double tol, int64_t *iters,
                  int64_t *evals) {
    const int64_t n = p->K * (p->r + 1);
    double *g = w->g, *d = w->d, *thn = w->thn, *gn = w->gn, *S = w->S, *Y = w->Y;
    double rho[LBFGS_M], al[LBFGS_M];
    memset(th, 0, (size_t)n * sizeof *th);
    double f = lr_fg(p, th, g);
    int64_t ne = 1;
    int hist = 0, head = 0; /* entries stored, next slot */
    int64_t it = 0;
    while (it < max_iter && amax(g, n) > tol) {
        /* two-loop recursion: d = -H g */
        for (int64_t t = 0; t < n; t++) d[t] = -g[t];
        for (int h = 0; h < hist; h++) {
            int s = (head - 1 - h + LBFGS_M) % LBFGS_M;
            al[s] = rho[s] * dot(S + s * n, d, n);
            for (int64_t t = 0; t < n; t++) d[t] -= al[s] * Y[s * n + t];
        }
        if (hist) {
            int s = (head - 1 + LBFGS_M) % LBFGS_M;
            double gam = dot(S + s * n, Y + s * n, n) / dot(Y + s * n, Y + s * n, n);
            for (int64_t t = 0; t < n; t++) d[t] *= gam;
        }
        for (int h = hist - 1; h >= 0; h--) {
            int s = (head - 1 - h + LBFGS_M) % LBFGS_M;
            double be = rho[s] * dot(Y + s * n, d, n);
            for (int64_t t = 0; t < n; t++) d[t] += (al[s] - be) * S[s * n + t];
        }
        double gd = dot(g, d, n);
        if (!(gd < 0)) { /* not a descent direction: restart from steepest descent */
            hist = 0;
            for (int64_t t = 0; t < n; t++) d[t] = -g[t];
            gd = dot(g, d, n);
        }
        /* first step as scipy: 1 / |d|, later steps 1 */
        double step = hist ? 1.0 : fmin(1.0, 1.0 / sqrt(dot(d, d, n)));
        double fn = 0;
        int ok = wolfe_search(p, th, d, f, gd, step, thn, gn, &fn, &ne);
        if (!ok) break; /* no decrease possible at this precision: stop where we are */
        it++;
        int s = head;
        double sy = 0;
        for (int64_t t = 0; t < n; t++) {
            S[s * n + t] = thn[t] - th[t];
            Y[s * n + t] = gn[t] - g[t];
            sy += S[s * n + t] * Y[s * n + t];
        }
        if (sy > 1e-10 * sqrt(dot(S + s * n, S + s * n, n) * dot(Y + s * n, Y + s * n, n))) {
            rho[s] = 1.0 / sy;
            head = (head + 1) % LBFGS_M;
            if (hist < LBFGS_M) hist++;
        }
        double fo = f;
        memcpy(th, thn, (size_t)n * sizeof *th);
        memcpy(g, gn, (size_t)n * sizeof *g);
        f = fn;
        if ((fo - f) / fmax(fmax(fabs(fo), fabs(f)), 1.0) <= FTOL) break;
    }
    *iters = it;
    *evals = ne;
}

/* Train on rows tr (ntr), test on te (nte) of X (N, d); *correct gets the number of
 * right test predictions. */
static xf_status fit_eval(xf_ctx_t *ctx, const lr_scratch *w, const double *X, int64_t d, const int32_t *y, int64_t C,
                          const int64_t *tr, int64_t ntr, const int64_t *te, int64_t nte, double Creg,
                          int64_t max_iter, double tol, int64_t *correct) {
    /* compact classes of the training part */
    int32_t *map = w->map, *inv = w->inv, *ytr = w->ytr;
    for (int64_t c = 0; c < C; c++) map[c] = -1;
    for (int64_t i = 0; i < ntr; i++) map[y[tr[i]]] = 0;
    int64_t K = 0;
    for (int64_t c = 0; c < C; c++)
        if (map[c] == 0) { inv[K] = (int32_t)c; map[c] = (int32_t)K++; }
    if (K < 2)
        return XF_ERR(ctx, XF_ERR_INVALID,
                      "linear: the training part (%lld rows) holds only one class; the probe should list classes in "
                      "mixed order (PARC's round-robin)",
                      (long long)ntr);
    for (int64_t i = 0; i < ntr; i++) ytr[i] = map[y[tr[i]]];

    double *Xtr = w->Xtr, *Xte = w->Xte;
    for (int64_t i = 0; i < ntr; i++) memcpy(Xtr + i * d, X + tr[i] * d, (size_t)d * sizeof *Xtr);
    for (int64_t i = 0; i < nte; i++) memcpy(Xte + i * d, X + te[i] * d, (size_t)d * sizeof *Xte);

    const double *Ztr = Xtr, *Zte = Xte;
    int64_t r = d;
    if (d > ntr) {
        /* row-space basis of the training features */
        double *Gm = w->Gm, *lam = w->lam, *Kte = w->Kte; // Gm: X_tr X_tr^T -> eigenvectors; Kte: X_te X_tr^T
        xf_la_dsyrk(0, ntr, d, 1.0, Xtr, d, 0.0, Gm, ntr);
        xf_status st = xf_la_eigh(ctx, ntr, Gm, ntr, lam);
        if (st) return st;
        int64_t k0 = 0; /* ascending: keep lam > RANK_TOL * lam_max */
        while (k0 < ntr && !(lam[k0] > RANK_TOL * lam[ntr - 1])) k0++;
        r = ntr - k0;
        if (r < 1) r = 1, k0 = ntr - 1;
        double *Zt = w->Zt, *Qs = w->Qs, *Ze = w->Ze; // Qs = Q lam^{-1/2}
        for (int64_t i = 0; i < ntr; i++)
            for (int64_t k = 0; k < r; k++) {
                double q = Gm[i * ntr + k0 + k], l = lam[k0 + k] > 0 ? lam[k0 + k] : 0;
                Zt[i * r + k] = q * sqrt(l);
                Qs[i * r + k] = l > 0 ? q / sqrt(l) : 0;
            }
        xf_la_dgemm(0, 1, nte, ntr, d, 1.0, Xte, d, Xtr, d, 0.0, Kte, ntr);
        xf_la_dgemm(0, 0, nte, r, ntr, 1.0, Kte, ntr, Qs, r, 0.0, Ze, r);
        Ztr = Zt;
        Zte = Ze;
    }

    double *L = w->L, *th = w->th;
    lr_prob pr = {.Z = Ztr, .y = ytr, .n = ntr, .r = r, .K = K, .lam = 1.0 / Creg, .L = L};
    int64_t iters, evals;
    lbfgs(w, &pr, th, max_iter, tol, &iters, &evals);
    xf_log(ctx, XF_LOG_DEBUG, "linear: L-BFGS stopped after %lld iterations, %lld evaluations (n = %lld, r = %lld, K = %lld)",
           (long long)iters, (long long)evals, (long long)ntr, (long long)r, (long long)K);

    xf_la_dgemm(0, 1, nte, K, r, 1.0, Zte, r, th, r, 0.0, L, K);
    int64_t ok = 0;
    for (int64_t i = 0; i < nte; i++) {
        const double *l = L + i * K;
        int64_t best = 0;
        for (int64_t c = 1; c < K; c++)
            if (l[c] + th[K * r + c] > l[best] + th[K * r + best]) best = c;
        ok += inv[best] == y[te[i]];
    }
    *correct = ok;
    return XF_OK;
}

static xf_status linear_fn(xf_ctx_t *ctx, const xf_est_input *in, const xf_params *p, xf_ws_t *ws, double *score) {
    const char *m = "linear";
    double Creg, tol;
    int64_t max_iter, folds, dims;
    xf_status st;
    if ((st = xf_params_f64(ctx, p, m, "C", 1.0, &Creg))) return st;
    if ((st = xf_params_f64(ctx, p, m, "tol", 1e-6, &tol))) return st;
    if ((st = xf_params_i64(ctx, p, m, "max_iter", 1000, &max_iter))) return st;
    if ((st = xf_params_i64(ctx, p, m, "folds", 0, &folds))) return st;
    if ((st = xf_params_i64(ctx, p, m, "dims", 0, &dims))) return st;
    const int64_t N = in->N;
    if (!(Creg > 0)) return XF_ERR(ctx, XF_ERR_INVALID, "linear: parameter C=%g must be positive", Creg);
    if (!(tol >= 0)) return XF_ERR(ctx, XF_ERR_INVALID, "linear: parameter tol=%g is negative", tol);
    if (max_iter < 1) return XF_ERR(ctx, XF_ERR_INVALID, "linear: parameter max_iter=%lld must be >= 1", (long long)max_iter);
    if (dims < 0) return XF_ERR(ctx, XF_ERR_INVALID, "linear: parameter dims=%lld is negative", (long long)dims);
    if (folds == 1 || folds < 0 || folds > N)
        return XF_ERR(ctx, XF_ERR_INVALID, "linear: parameter folds=%lld must be 0 (half split) or 2..N", (long long)folds);
    xf_la_set_threads(xf_ctx_threads(ctx));

    double *X;
    int64_t d;
    if (dims > 0) {
        if ((st = xf_est_a_pca(ctx, m, in, p, ws, dims, &X, &d))) return st;
    } else {
        d = in->D;
        X = xf_ws_alloc(ws, (size_t)N * (size_t)d * sizeof *X); // (N, d)
        if (!X) return XF_ERR_NOMEM;
        for (int64_t i = 0; i < N; i++)
            for (int64_t t = 0; t < d; t++) X[i * d + t] = in->F[i * in->ldF + t];
    }
    int64_t *tr = xf_ws_alloc(ws, (size_t)N * sizeof *tr), *te = xf_ws_alloc(ws, (size_t)N * sizeof *te);
    if (!tr || !te) return XF_ERR_NOMEM;
    const int64_t nf = folds ? folds : 1;
    /* largest and smallest part sizes over the folds, for one allocation of the scratch */
    int64_t trmax = 0, trmin = N, temax = 0;
    for (int64_t f = 0; f < nf; f++) {
        int64_t a = folds ? f * N / folds : N - N / 2, b = folds ? (f + 1) * N / folds : N;
        int64_t nte = b - a, ntr = N - nte;
        if (ntr > trmax) trmax = ntr;
        if (ntr < trmin) trmin = ntr;
        if (nte > temax) temax = nte;
    }
    const int64_t C = in->C, rmax = d > trmax ? trmax : d, np = C * (d + 1);
    const int64_t nl = trmax > temax ? trmax : temax;
    lr_scratch w = {0};
    int bad = 0;
#define A(p, n) bad |= !((p) = xf_ws_alloc(ws, (size_t)(n) * sizeof *(p)))
    A(w.map, C); A(w.inv, C); A(w.ytr, trmax);
    A(w.Xtr, trmax * d); A(w.Xte, temax * d);
    if (d > trmin) {
        A(w.Gm, trmax * trmax); A(w.lam, trmax); A(w.Kte, temax * trmax);
        A(w.Zt, trmax * rmax); A(w.Qs, trmax * rmax); A(w.Ze, temax * rmax);
    }
    A(w.L, nl * C); A(w.th, np);
    A(w.g, np); A(w.d, np); A(w.thn, np); A(w.gn, np); A(w.S, LBFGS_M * np); A(w.Y, LBFGS_M * np);
#undef A
    if (bad) return XF_ERR_NOMEM;
    double acc = 0;
    for (int64_t f = 0; f < nf; f++) {
        /* test rows [a, b): the second half, or fold f */
        int64_t a = folds ? f * N / folds : N - N / 2, b = folds ? (f + 1) * N / folds : N;
        int64_t ntr = 0, nte = 0;
        for (int64_t i = 0; i < N; i++) {
            if (i >= a && i < b) te[nte++] = i;
            else tr[ntr++] = i;
        }
        int64_t correct = 0;
        if ((st = fit_eval(ctx, &w, X, d, in->y, in->C, tr, ntr, te, nte, Creg, max_iter, tol, &correct))) return st;
        acc += 100.0 * (double)correct / (double)nte;
    }
    *score = acc / (double)nf;
    return XF_OK;
}

static const char *const linear_params[] = {
    "C=1  inverse L2 strength (sklearn's C): loss = sum cross-entropy + ||W||^2 / (2C)",
    "max_iter=1000  L-BFGS iterations at most (PARC: 20)",
    "tol=1e-6  stop when max |gradient| <= tol (PARC: 0.1)",
    "folds=0  0: first half trains, second half tests; k > 1: mean over k contiguous folds",
    "dims=0  PCA components before the fit (0 = none; clamped to min(N-1, D))",
    "pca=exact  PCA solver when dims > 0: exact or randomized",
    "seed=1919  seed of the randomized PCA",
    NULL};

const xf_estimator xf_est_def_linear = {
    .name = "linear",
    .flags = XF_NEEDS_F,
    .summary = "linear probe: multinomial L2 logistic regression on a split, accuracy in %",
    .params = linear_params,
    .fn = linear_fn,
};
