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
 * Solver: scipy's L-BFGS-B path as sklearn 1.2 calls it (scipy.optimize.minimize,
 * method L-BFGS-B, jac, gtol = tol, maxiter = max_iter, other options at scipy 1.10's
 * defaults) from W = b = 0, reproduced step by step in float64 so that an early-stopped
 * fit (PARC: max_iter=20, tol=0.1) gives sklearn's coefficients and predictions: memory
 * 10, Moré-Thuente line search (dcsrch/dcstep), same stopping tests in the same order
 * (see lbfgsb below). f and gradient by two GEMMs (L = X W^T; grad_W = (P - Y)^T X + W / C).
 * Defaults: PARC's max_iter=20, tol=0.1, so that the published scores reproduce; the
 * optimum is max_iter=1000 tol=1e-6. See docs/ESTIMATORS.md.
 * Parameters: C=1, max_iter=20, tol=0.1, folds=0, dims=0, pca=exact, seed=1919. */
#include <float.h>
#include <math.h>
#include <string.h>

#include "estimators/estimatorsInt.h"
#include "xfer/linalg.h"

/* scipy 1.10 L-BFGS-B defaults, none of which sklearn 1.2 overrides: maxcor 10, maxls 20,
 * maxfun 15000, ftol 2.22e-9 (factr 1e7); lnsrlb's stpmax without bounds is 1e10. */
enum { LBFGS_M = 10, LS_MAXLS = 20, MAXFUN = 15000 };
static const double FTOL = 2.2204460492503131e-09;
static const double LS_STPMAX = 1e10;
/* f/g blocking: row blocks of about FG_BLOCK_BYTES of features when K r <= FG_BLOCK_PARAMS */
enum { FG_BLOCK_BYTES = 1 << 20, FG_BLOCK_PARAMS = 32768 };
static const double RANK_TOL = 1e-12; /* relative eigenvalue floor of the row-space basis */

typedef struct lr_prob {
    const double *Z; /* (n, r) training features */
    const int32_t *y; /* (n) compact training classes 0..K-1 */
    int64_t n, r, K;
    double lam;   /* 1 / C */
    double *L;    /* (n, K) scratch: logits, then P - Y */
    int64_t block; /* rows per f/g block (0: automatic) */
    const double *Vt; /* (r, D) row-space basis V^T when Z = X V (NULL: Z = X) */
    int64_t D;
    double *gW;   /* (K, D) scratch: the gradient back in feature coordinates */
} lr_prob;

/* Softmax of the logit rows l (nb, K) (+ b) in place into P - Y; returns the rows' loss. */
static double lr_softmax(double *l, const int32_t *y, int64_t nb, int64_t K, const double *b, double *gb) {
    double f = 0;
    for (int64_t i = 0; i < nb; i++, l += K) {
        double mx = -DBL_MAX, s = 0;
        for (int64_t c = 0; c < K; c++) { l[c] += b[c]; if (l[c] > mx) mx = l[c]; }
        for (int64_t c = 0; c < K; c++) s += exp(l[c] - mx);
        double lse = mx + log(s);
        f += lse - l[y[i]];
        for (int64_t c = 0; c < K; c++) l[c] = exp(l[c] - lse);
        l[y[i]] -= 1.0;
        for (int64_t c = 0; c < K; c++) gb[c] += l[c];
    }
    return f;
}

/* f and gradient at theta = [W (K, r), b (K)]. With few parameters (K r small) the two
 * GEMMs are memory-bound (each streams Z), so they run per block of rows while the block
 * is still in cache; with many, one GEMM each over all rows (compute-bound). */
static double lr_fg(const lr_prob *p, const double *th, double *g) {
    const int64_t n = p->n, r = p->r, K = p->K;
    const double *W = th, *b = th + K * r;
    double *gb = g + K * r;
    for (int64_t c = 0; c < K; c++) gb[c] = 0;
    memcpy(g, W, (size_t)(K * r) * sizeof *g); /* grad W = (P - Y)^T Z + lam W */
    int64_t bs = p->block > 0 ? p->block : n;
    if (p->block <= 0 && K * r <= FG_BLOCK_PARAMS) {
        bs = FG_BLOCK_BYTES / (8 * r);
        if (bs < 64) bs = 64;
    }
    double f = 0, beta = p->lam;
    for (int64_t i0 = 0; i0 < n; i0 += bs) {
        const int64_t nb = n - i0 < bs ? n - i0 : bs;
        xf_la_dgemm(0, 1, nb, K, r, 1.0, p->Z + i0 * r, r, W, r, 0.0, p->L, K);
        f += lr_softmax(p->L, p->y + i0, nb, K, b, gb);
        xf_la_dgemm(1, 0, K, r, nb, 1.0, p->L, K, p->Z + i0 * r, r, beta, g, r);
        beta = 1.0;
    }
    double w2 = 0;
    for (int64_t t = 0; t < K * r; t++) w2 += W[t] * W[t];
    return f + 0.5 * p->lam * w2;
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

/* scipy's stopping quantity max |g| in sklearn's coordinates, exactly enough to compare
 * with tol: in the row space g_W = g_W' V^T, whose rows have the 2-norms of g_W' (V
 * orthonormal), so max_c |g'_c|_2 bounds max |g_W| from above and max_c |g'_c|_2 / sqrt(D)
 * from below; the GEMM back to feature coordinates runs only when tol lies between. */
static double lr_gnorm(const lr_prob *p, const double *g, double tol) {
    const int64_t K = p->K, r = p->r;
    const double gb = amax(g + K * r, K);
    if (!p->Vt) return fmax(amax(g, K * r), gb);
    double ub = 0;
    for (int64_t c = 0; c < K; c++) ub = fmax(ub, sqrt(dot(g + c * r, g + c * r, r)));
    const double hi = ub * (1 + 1e-12), lo = ub / sqrt((double)p->D) * (1 - 1e-12);
    if (fmax(hi, gb) <= tol) return fmax(hi, gb);
    if (fmax(lo, gb) > tol) return fmax(lo, gb);
    xf_la_dgemm(0, 0, K, p->D, r, 1.0, g, r, p->Vt, p->D, 0.0, p->gW, p->D);
    return fmax(amax(p->gW, K * p->D), gb);
}

/* Scratch for all folds, allocated once at the largest sizes. */
typedef struct lr_scratch {
    int32_t *map, *inv, *ytr;       // (C), (C), (ntr)
    double *Xtr;                    // (ntr, d): non-contiguous training rows
    double *L, *th;                 // (max(ntr, nte), C), (C (d + 1))
    double *Gm, *lam, *Zt, *Qs, *Ze, *Vt, *gW; // row space: (ntr, ntr), (ntr), (ntr, r) x 2, (nte, r), (r, d), (C, d)
    double *g, *d, *z, *t, *r, *S, *Y; // L-BFGS-B: 5 x (npar), 2 x (LBFGS_M, npar)
} lr_scratch;

/* dcstep (Moré & Thuente 1994, MINPACK-2): safeguarded cubic / quadratic / secant step
 * for the interval [stx, sty] that brackets a step satisfying the sufficient-decrease and
 * curvature conditions; updates the interval with the trial (stp, fp, dp) and returns the
 * next trial step in *stp. */
static void dcstep(double *stx, double *fx, double *dx, double *sty, double *fy, double *dy, double *stp, double fp,
                   double dp, int *brackt, double stpmin, double stpmax) {
    const double sgnd = dp * (*dx / fabs(*dx));
    double stpf, theta, s, gamma, p, q, r, stpc, stpq;
    if (fp > *fx) { /* higher value: minimum bracketed; cubic if closer to stx, else cubic/quadratic mean */
        theta = 3.0 * (*fx - fp) / (*stp - *stx) + *dx + dp;
        s = fmax(fabs(theta), fmax(fabs(*dx), fabs(dp)));
        gamma = s * sqrt((theta / s) * (theta / s) - (*dx / s) * (dp / s));
        if (*stp < *stx) gamma = -gamma;
        p = (gamma - *dx) + theta;
        q = ((gamma - *dx) + gamma) + dp;
        r = p / q;
        stpc = *stx + r * (*stp - *stx);
        stpq = *stx + ((*dx / ((*fx - fp) / (*stp - *stx) + *dx)) / 2.0) * (*stp - *stx);
        stpf = fabs(stpc - *stx) < fabs(stpq - *stx) ? stpc : stpc + (stpq - stpc) / 2.0;
        *brackt = 1;
    } else if (sgnd < 0) { /* lower value, derivatives of opposite sign: bracketed */
        theta = 3.0 * (*fx - fp) / (*stp - *stx) + *dx + dp;
        s = fmax(fabs(theta), fmax(fabs(*dx), fabs(dp)));
        gamma = s * sqrt((theta / s) * (theta / s) - (*dx / s) * (dp / s));
        if (*stp > *stx) gamma = -gamma;
        p = (gamma - dp) + theta;
        q = ((gamma - dp) + gamma) + *dx;
        r = p / q;
        stpc = *stp + r * (*stx - *stp);
        stpq = *stp + (dp / (dp - *dx)) * (*stx - *stp);
        stpf = fabs(stpc - *stp) > fabs(stpq - *stp) ? stpc : stpq;
        *brackt = 1;
    } else if (fabs(dp) < fabs(*dx)) { /* same sign, derivative magnitude decreases */
        theta = 3.0 * (*fx - fp) / (*stp - *stx) + *dx + dp;
        s = fmax(fabs(theta), fmax(fabs(*dx), fabs(dp)));
        gamma = s * sqrt(fmax(0.0, (theta / s) * (theta / s) - (*dx / s) * (dp / s)));
        if (*stp > *stx) gamma = -gamma;
        p = (gamma - dp) + theta;
        q = (gamma + (*dx - dp)) + gamma;
        r = p / q;
        if (r < 0 && gamma != 0) stpc = *stp + r * (*stx - *stp);
        else if (*stp > *stx) stpc = stpmax;
        else stpc = stpmin;
        stpq = *stp + (dp / (dp - *dx)) * (*stx - *stp);
        if (*brackt) {
            stpf = fabs(stpc - *stp) < fabs(stpq - *stp) ? stpc : stpq;
            if (*stp > *stx) stpf = fmin(*stp + 0.66 * (*sty - *stp), stpf);
            else stpf = fmax(*stp + 0.66 * (*sty - *stp), stpf);
        } else {
            stpf = fabs(stpc - *stp) > fabs(stpq - *stp) ? stpc : stpq;
            stpf = fmax(stpmin, fmin(stpmax, stpf));
        }
    } else { /* same sign, magnitude does not decrease */
        if (*brackt) {
            theta = 3.0 * (fp - *fy) / (*sty - *stp) + *dy + dp;
            s = fmax(fabs(theta), fmax(fabs(*dy), fabs(dp)));
            gamma = s * sqrt((theta / s) * (theta / s) - (*dy / s) * (dp / s));
            if (*stp > *sty) gamma = -gamma;
            p = (gamma - dp) + theta;
            q = ((gamma - dp) + gamma) + *dy;
            r = p / q;
            stpf = *stp + r * (*sty - *stp);
        } else stpf = *stp > *stx ? stpmax : stpmin;
    }
    if (fp > *fx) { *sty = *stp; *fy = fp; *dy = dp; }
    else {
        if (sgnd < 0) { *sty = *stx; *fy = *fx; *dy = *dx; }
        *stx = *stp; *fx = fp; *dx = dp;
    }
    *stp = stpf;
}

/* dcsrch (Moré & Thuente 1994, MINPACK-2), reverse communication: ls_start takes phi(0),
 * phi'(0) and the first trial step; ls_next takes phi(stp), phi'(stp) and returns LS_FG
 * with the next trial in *stp, or LS_DONE (converged or a warning: stp is kept). */
enum { LS_FG, LS_DONE };
typedef struct lsrch {
    double ftol, gtol, xtol, stpmin, stpmax;
    int brackt, stage;
    double finit, ginit, gtest, width, width1, stx, fx, gx, sty, fy, gy, stmin, stmax;
} lsrch;

static void ls_start(lsrch *s, double f, double g, double stp) {
    s->brackt = 0;
    s->stage = 1;
    s->finit = f;
    s->ginit = g;
    s->gtest = s->ftol * g;
    s->width = s->stpmax - s->stpmin;
    s->width1 = s->width / 0.5;
    s->stx = 0; s->fx = f; s->gx = g;
    s->sty = 0; s->fy = f; s->gy = g;
    s->stmin = 0;
    s->stmax = stp + 4.0 * stp;
}

static int ls_next(lsrch *s, double f, double g, double *stp) {
    const double ftest = s->finit + *stp * s->gtest;
    if (s->stage == 1 && f <= ftest && g >= 0) s->stage = 2;
    int done = 0; /* warnings (rounding, xtol, stpmax, stpmin) and convergence all stop */
    if (s->brackt && (*stp <= s->stmin || *stp >= s->stmax)) done = 1;
    if (s->brackt && s->stmax - s->stmin <= s->xtol * s->stmax) done = 1;
    if (*stp == s->stpmax && f <= ftest && g <= s->gtest) done = 1;
    if (*stp == s->stpmin && (f > ftest || g >= s->gtest)) done = 1;
    if (f <= ftest && fabs(g) <= s->gtol * -s->ginit) done = 1;
    if (done) return LS_DONE;
    if (s->stage == 1 && f <= s->fx && f > ftest) { /* modified function psi = phi - gtest * stp */
        double fm = f - *stp * s->gtest, fxm = s->fx - s->stx * s->gtest, fym = s->fy - s->sty * s->gtest;
        double gm = g - s->gtest, gxm = s->gx - s->gtest, gym = s->gy - s->gtest;
        dcstep(&s->stx, &fxm, &gxm, &s->sty, &fym, &gym, stp, fm, gm, &s->brackt, s->stmin, s->stmax);
        s->fx = fxm + s->stx * s->gtest;
        s->fy = fym + s->sty * s->gtest;
        s->gx = gxm + s->gtest;
        s->gy = gym + s->gtest;
    } else {
        dcstep(&s->stx, &s->fx, &s->gx, &s->sty, &s->fy, &s->gy, stp, f, g, &s->brackt, s->stmin, s->stmax);
    }
    if (s->brackt) { /* bisect when the interval does not shrink enough */
        if (fabs(s->sty - s->stx) >= 0.66 * s->width1) *stp = s->stx + 0.5 * (s->sty - s->stx);
        s->width1 = s->width;
        s->width = fabs(s->sty - s->stx);
    }
    if (s->brackt) {
        s->stmin = fmin(s->stx, s->sty);
        s->stmax = fmax(s->stx, s->sty);
    } else {
        s->stmin = *stp + 1.1 * (*stp - s->stx);
        s->stmax = *stp + 4.0 * (*stp - s->stx);
    }
    *stp = fmax(*stp, s->stpmin);
    *stp = fmin(*stp, s->stpmax);
    if ((s->brackt && (*stp <= s->stmin || *stp >= s->stmax)) || (s->brackt && s->stmax - s->stmin <= s->xtol * s->stmax))
        *stp = s->stx;
    return LS_FG;
}

/* scipy's L-BFGS-B (lbfgsb.f 3.0 as wrapped by scipy 1.10 minimize) without bounds, from
 * theta = 0. Without bounds the generalised Cauchy point and subspace minimisation reduce
 * to z = x - g / theta when the memory is empty (theta = 1) and to the quasi-Newton point
 * z = x - H g otherwise (H the inverse of the compact L-BFGS matrix with B0 = theta I,
 * theta = y'y / s'y of the last pair; computed here with the equivalent two-loop
 * recursion). Line search dcsrch along d = z - x (ftol 1e-3, gtol 0.9, xtol 0.1,
 * stpmax 1e10), first step min(1 / ||d||, stpmax) at iteration 0, else 1, at most
 * LS_MAXLS evaluations; a failed search restarts from an empty memory (or ends the run when
 * the memory is already empty, keeping the previous iterate). After each iteration: stop
 * at max_iter, at more than MAXFUN evaluations, when max |g| <= tol, or when
 * (f_old - f) <= FTOL max(|f_old|, |f|, 1). A pair is stored when s'y > eps (-g_old's). */
static void lbfgsb(const lr_scratch *w, const lr_prob *p, double *x, int64_t max_iter, double tol, int64_t *iters,
                   int64_t *evals) {
    const int64_t n = p->K * (p->r + 1);
    double *g = w->g, *d = w->d, *z = w->z, *t = w->t, *r = w->r, *S = w->S, *Y = w->Y;
    double rho[LBFGS_M], al[LBFGS_M], gam = 1.0;
    const double factr = FTOL / DBL_EPSILON, ftol_abs = factr * DBL_EPSILON; /* scipy: factr = ftol / eps */
    memset(x, 0, (size_t)n * sizeof *x);
    double f = lr_fg(p, x, g);
    int64_t nfev = 1, it = 0;
    int hist = 0, head = 0; /* pairs stored, next slot */
    double sbgnrm = lr_gnorm(p, g, tol);
    while (sbgnrm > tol) {
        /* z: Cauchy point (empty memory) or quasi-Newton point; d = z - x */
        if (!hist) {
            for (int64_t k = 0; k < n; k++) z[k] = x[k] - g[k];
        } else {
            for (int64_t k = 0; k < n; k++) d[k] = -g[k];
            for (int h = 0; h < hist; h++) {
                int s = (head - 1 - h + LBFGS_M) % LBFGS_M;
                al[s] = rho[s] * dot(S + s * n, d, n);
                for (int64_t k = 0; k < n; k++) d[k] -= al[s] * Y[s * n + k];
            }
            for (int64_t k = 0; k < n; k++) d[k] *= gam;
            for (int h = hist - 1; h >= 0; h--) {
                int s = (head - 1 - h + LBFGS_M) % LBFGS_M;
                double be = rho[s] * dot(Y + s * n, d, n);
                for (int64_t k = 0; k < n; k++) d[k] += (al[s] - be) * S[s * n + k];
            }
            for (int64_t k = 0; k < n; k++) z[k] = x[k] + d[k];
        }
        for (int64_t k = 0; k < n; k++) d[k] = z[k] - x[k];
        /* line search (lnsrlb) */
        memcpy(t, x, (size_t)n * sizeof *t);
        memcpy(r, g, (size_t)n * sizeof *r);
        const double fold = f, dnorm = sqrt(dot(d, d, n));
        double stp = it == 0 ? fmin(1.0 / dnorm, LS_STPMAX) : 1.0;
        const double gdold = dot(g, d, n);
        double gd = gdold;
        int fail = !(gdold < 0);
        if (!fail) {
            lsrch ls = {.ftol = 1e-3, .gtol = 0.9, .xtol = 0.1, .stpmin = 0, .stpmax = LS_STPMAX};
            ls_start(&ls, f, gd, stp);
            for (int ifun = 0;; ifun++) {
                if (ifun > 0 && ls_next(&ls, f, gd, &stp) == LS_DONE) break;
                if (ifun >= LS_MAXLS) { fail = 1; break; } /* scipy: iback = ifun - 1 >= maxls */
                if (stp == 1.0) memcpy(x, z, (size_t)n * sizeof *x);
                else for (int64_t k = 0; k < n; k++) x[k] = stp * d[k] + t[k];
                f = lr_fg(p, x, g);
                nfev++;
                gd = dot(g, d, n);
            }
        }
        if (fail) { /* back to the last iterate; restart with an empty memory, or give up */
            memcpy(x, t, (size_t)n * sizeof *x);
            memcpy(g, r, (size_t)n * sizeof *g);
            f = fold;
            if (!hist) break;
            hist = 0;
            head = 0;
            gam = 1.0;
            continue;
        }
        it++;
        sbgnrm = lr_gnorm(p, g, tol);
        if (it >= max_iter || nfev > MAXFUN) break;
        if (sbgnrm <= tol) break;
        if (fold - f <= ftol_abs * fmax(fmax(fabs(fold), fabs(f)), 1.0)) break;
        /* pair s = stp d, y = g - g_old; s'y from the directional derivatives as lbfgsb.f */
        double dr, ddum;
        if (stp == 1.0) { dr = gd - gdold; ddum = -gdold; }
        else { dr = (gd - gdold) * stp; ddum = -gdold * stp; }
        if (dr <= DBL_EPSILON * ddum) continue; /* skipped update */
        int s = head;
        double rr = 0;
        for (int64_t k = 0; k < n; k++) {
            S[s * n + k] = stp == 1.0 ? d[k] : stp * d[k];
            Y[s * n + k] = g[k] - r[k];
            rr += Y[s * n + k] * Y[s * n + k];
        }
        rho[s] = 1.0 / dr;
        gam = dr / rr; /* 1 / theta */
        head = (head + 1) % LBFGS_M;
        if (hist < LBFGS_M) hist++;
    }
    *iters = it;
    *evals = nfev;
}

/* Train on rows tr (ntr), test on te (nte) of X (N, d); *correct gets the number of
 * right test predictions; optionally coef gets [W (K, d), b (K)] over the K training
 * classes (ascending) and pred (nte) the predicted classes. */
static xf_status fit_eval(xf_ctx_t *ctx, const lr_scratch *w, const double *X, int64_t d, const int32_t *y, int64_t C,
                          const int64_t *tr, int64_t ntr, const int64_t *te, int64_t nte, double Creg,
                          int64_t max_iter, double tol, int64_t block, int64_t *correct, double *coef,
                          int32_t *pred) {
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

    /* contiguous parts (the half split, the first and last folds) are used in place */
    const double *Xtr = X + tr[0] * d, *Xte = X + te[0] * d;
    if (tr[ntr - 1] - tr[0] != ntr - 1) {
        double *xt = w->Xtr; // (ntr, d)
        for (int64_t i = 0; i < ntr; i++) memcpy(xt + i * d, X + tr[i] * d, (size_t)d * sizeof *xt);
        Xtr = xt;
    }

    const double *Ztr = Xtr, *Zte = Xte, *Vt = NULL;
    int64_t r = d;
    if (d > ntr) {
        /* Row space of the training features (D > n_train): X_tr X_tr^T = Q diag(lam) Q^T,
         * Z_tr = Q lam^{1/2}, V^T = lam^{-1/2} Q^T X_tr (orthonormal rows), Z_te = X_te V.
         * W = W' V^T keeps logits, norms and inner products, and the gradient always lies
         * in that span, so L-BFGS-B takes the same steps from 0 (its max |g| test is
         * evaluated in feature coordinates, lr_gnorm). Eigenvalues below RANK_TOL lam_max
         * are dropped (directions the data do not span). Cost per evaluation n r C instead
         * of n D C. */
        double *Gm = w->Gm, *lam = w->lam; // (ntr, ntr) -> eigenvectors, (ntr)
        xf_la_dsyrk(0, ntr, d, 1.0, Xtr, d, 0.0, Gm, ntr);
        xf_status st = xf_la_eigh(ctx, ntr, Gm, ntr, lam);
        if (st) return st;
        int64_t k0 = 0; /* ascending: keep lam > RANK_TOL * lam_max */
        while (k0 < ntr && !(lam[k0] > RANK_TOL * lam[ntr - 1])) k0++;
        r = ntr - k0;
        if (r < 1) r = 1, k0 = ntr - 1;
        double *Zt = w->Zt, *Qs = w->Qs, *Ze = w->Ze, *V = w->Vt; // Qs = Q lam^{-1/2}
        for (int64_t i = 0; i < ntr; i++)
            for (int64_t k = 0; k < r; k++) {
                double q = Gm[i * ntr + k0 + k], l = lam[k0 + k] > 0 ? lam[k0 + k] : 0;
                Zt[i * r + k] = q * sqrt(l);
                Qs[i * r + k] = l > 0 ? q / sqrt(l) : 0;
            }
        xf_la_dgemm(1, 0, r, d, ntr, 1.0, Qs, r, Xtr, d, 0.0, V, d);
        xf_la_dgemm(0, 1, nte, r, d, 1.0, Xte, d, V, d, 0.0, Ze, r);
        Ztr = Zt;
        Zte = Ze;
        Vt = V;
    }

    double *L = w->L, *th = w->th;
    lr_prob pr = {.Z = Ztr, .y = ytr, .n = ntr, .r = r, .K = K, .lam = 1.0 / Creg, .L = L, .block = block,
                  .Vt = Vt, .D = d, .gW = w->gW};
    int64_t iters, evals;
    lbfgsb(w, &pr, th, max_iter, tol, &iters, &evals);
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
        if (pred) pred[i] = inv[best];
    }
    if (coef) { /* [W (K, d), b (K)] in feature coordinates */
        if (Vt) xf_la_dgemm(0, 0, K, d, r, 1.0, th, r, Vt, d, 0.0, coef, d);
        else memcpy(coef, th, (size_t)(K * r) * sizeof *coef);
        memcpy(coef + K * d, th + K * r, (size_t)K * sizeof *coef);
    }
    *correct = ok;
    return XF_OK;
}

xf_status xf_est_linear_probe(xf_ctx_t *ctx, const xf_est_input *in, const xf_params *p, xf_ws_t *ws, double *score,
                              double *coef, int32_t *pred) {
    const char *m = "linear";
    double Creg, tol;
    int64_t max_iter, folds, dims, block;
    xf_status st;
    if ((st = xf_params_f64(ctx, p, m, "C", 1.0, &Creg))) return st;
    if ((st = xf_params_f64(ctx, p, m, "tol", 0.1, &tol))) return st;
    if ((st = xf_params_i64(ctx, p, m, "max_iter", 20, &max_iter))) return st;
    if ((st = xf_params_i64(ctx, p, m, "folds", 0, &folds))) return st;
    if ((st = xf_params_i64(ctx, p, m, "dims", 0, &dims))) return st;
    if ((st = xf_params_i64(ctx, p, m, "block", 0, &block))) return st;
    if (block < 0) return XF_ERR(ctx, XF_ERR_INVALID, "linear: parameter block=%lld is negative", (long long)block);
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
        if ((st = xf_est_pca(ctx, m, in, p, ws, dims, &X, &d))) return st;
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
    const int64_t C = in->C, np = C * (d + 1), rmax = d > trmax ? trmax : d;
    const int64_t nl = trmax > temax ? trmax : temax;
    lr_scratch w = {0};
    int bad = 0;
#define A(p, n) bad |= !((p) = xf_ws_alloc(ws, (size_t)(n) * sizeof *(p)))
    A(w.map, C); A(w.inv, C); A(w.ytr, trmax);
    if (folds > 2) A(w.Xtr, trmax * d); /* middle folds train on two pieces */
    if (d > trmin) {
        A(w.Gm, trmax * trmax); A(w.lam, trmax); A(w.Zt, trmax * rmax); A(w.Qs, trmax * rmax);
        A(w.Ze, temax * rmax); A(w.Vt, rmax * d); A(w.gW, C * d);
    }
    A(w.L, nl * C); A(w.th, np);
    A(w.g, np); A(w.d, np); A(w.z, np); A(w.t, np); A(w.r, np); A(w.S, LBFGS_M * np); A(w.Y, LBFGS_M * np);
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
        if ((st = fit_eval(ctx, &w, X, d, in->y, in->C, tr, ntr, te, nte, Creg, max_iter, tol, block, &correct, f == 0 ? coef : NULL,
                            f == 0 ? pred : NULL)))
            return st;
        acc += 100.0 * (double)correct / (double)nte;
    }
    *score = acc / (double)nf;
    return XF_OK;
}

static xf_status linear_fn(xf_ctx_t *ctx, const xf_est_input *in, const xf_params *p, xf_ws_t *ws, double *score) {
    return xf_est_linear_probe(ctx, in, p, ws, score, NULL, NULL);
}

static const char *const linear_params[] = {
    "C=1  inverse L2 strength (sklearn's C): loss = sum cross-entropy + ||W||^2 / (2C)",
    "max_iter=20  L-BFGS-B iterations at most (PARC's setting; 1000 with tol=1e-6 converges)",
    "tol=0.1  stop when max |gradient| <= tol (scipy's pgtol; PARC's setting)",
    "folds=0  0: first half trains, second half tests; k > 1: mean over k contiguous folds",
    "dims=0  PCA components before the fit (0 = none; clamped to min(N-1, D))",
    "pca=exact  PCA solver when dims > 0: exact or randomized",
    "seed=1919  seed of the randomized PCA",
    "block=0  training rows per f/gradient block (0: about 1 MB of features when C D is small, else all)",
    NULL};

const xf_estimator xf_est_def_linear = {
    .name = "linear",
    .flags = XF_NEEDS_F,
    .summary = "linear probe: multinomial L2 logistic regression on a split, accuracy in %",
    .params = linear_params,
    .fn = linear_fn,
};
