#!/usr/bin/env bash
# xfer score end to end: good runs (table, --json, --csv, several models, ensemble,
# missing --probs), and the table of malformed or inconsistent inputs: each must exit
# non-zero with exactly one line on stderr that names the offending file or argument.
. "$(dirname "$0")/common.sh" score_sh
R=$R/cli

# --- bad inputs: expected status, a string the one-line message must contain, args ---
check_err() { check_err_of score "$@"; }
G=$R/feat_good.npy L=$R/labels.npy P=$R/probs.npy
check_err 2 "--labels" --features $G
check_err 2 "--features" --labels $L
check_err 2 "--method" --features $G --labels $L --method nosuch
check_err 2 "--param" --features $G --labels $L --param novalue
check_err 2 "unknown method 'nosuch'" --features $G --labels $L --param nosuch.k=1
check_err 2 "--threads" --features $G --labels $L --threads zero
check_err 2 "unknown argument" --features $G --labels $L --bogus
check_err 2 "--probs" --features $G $R/feat_weak.npy --labels $L --probs $P
check_err 1 "missing.npy" --features $R/missing.npy --labels $L
check_err 1 "not_npy.npy" --features $R/not_npy.npy --labels $L
check_err 1 "truncated.npy" --features $R/truncated.npy --labels $L
check_err 1 "labels_short.npy" --features $G --labels $R/labels_short.npy
check_err 1 "feat_short.npy" --features $R/feat_short.npy --labels $L
check_err 1 "labels_frac.npy" --features $G --labels $R/labels_frac.npy
check_err 1 "labels_one_class.npy" --features $G --labels $R/labels_one_class.npy
check_err 1 "labels_3d.npy" --features $G --labels $R/labels_3d.npy
check_err 1 "labels_multi_bad.npy" --features $G --labels $R/labels_multi_bad.npy
check_err 1 "feat_1d.npy" --features $R/feat_1d.npy --labels $L
check_err 1 "feat_3d.npy" --features $R/feat_3d.npy --labels $L
check_err 1 "feat_nan.npy: non-finite value" --features $R/feat_nan.npy --labels $L
check_err 1 "feat_inf.npy" --features $R/feat_inf.npy --labels $L
check_err 1 "feat_nocols.npy" --features $R/feat_nocols.npy --labels $L
check_err 1 "feat_f64_overflow.npy" --features $R/feat_f64_overflow.npy --labels $L
check_err 1 "probs_short.npy" --features $G --labels $L --probs $R/probs_short.npy --method leep
check_err 1 "probs_unnormalized.npy" --features $G --labels $L --probs $R/probs_unnormalized.npy --method leep
check_err 1 "not 1 (pass softmax outputs" --features $G --labels $L --probs $R/probs_unnormalized.npy --method nce
check_err 1 "probs_logits.npy" --features $G --labels $L --probs $R/probs_logits.npy --method leep
check_err 1 "invalid value" --features $G --labels $L --probs $R/probs_negative.npy --method nce
check_err 1 "is not an integer" --features $G --labels $L --method knn --param knn.k=abc
check_err 1 "is not a number" --features $G --labels $L --method linear --param linear.C=abc
check_err 1 "unknown parameter" --features $G --labels $L --method knn --param knn.nosuchkey=1

# --- good runs ---
"$X" score --features $G --labels $L --method knn >"$T/out" 2>"$T/err" || bad "knn run failed: $(cat "$T/err")"
grep -q "^feat_good *knn" "$T/out" && ok || bad "table row missing: $(cat "$T/out")"
# labels that are not 0..C-1, or integral floats, give the same score
"$X" score --features $G --labels $R/labels_sparse.npy --method knn --csv >"$T/a" 2>/dev/null
"$X" score --features $G --labels $R/labels_float_int.npy --method knn --csv >"$T/b" 2>/dev/null
"$X" score --features $G --labels $L --method knn --csv >"$T/c" 2>/dev/null
cut -d, -f1-4 "$T/a" >"$T/a2"; cut -d, -f1-4 "$T/c" >"$T/c2"; cut -d, -f1-4 "$T/b" >"$T/b2"
cmp -s "$T/a2" "$T/c2" && cmp -s "$T/b2" "$T/c2" && ok || bad "label remapping changed the score"
# float64 features are accepted
"$X" score --features $R/feat_f64.npy --labels $L --method knn >/dev/null 2>&1 && ok || bad "float64 features"
# several models: ranks and an ensemble; the informative features must rank first
"$X" score --features $G $R/feat_weak.npy --labels $L --method knn,logme,parc --json >"$T/j" 2>"$T/err" || bad "multi-model run: $(cat "$T/err")"
grep -q '"model": "feat_good", "method": "knn", "score": [0-9.e+-]*, "rank": 1, "seconds"' "$T/j" && ok || bad "json knn rank: $(cat "$T/j")"
grep -q '"method": "ensemble"' "$T/j" && ok || bad "no ensemble: $(cat "$T/j")"
[ "$(grep -c '"model"' "$T/j")" -eq 8 ] && ok || bad "json line count: $(cat "$T/j")"
# a method that needs --probs says so, and the others still run (exit 0)
"$X" score --features $G --labels $L --method knn,leep >"$T/out" 2>"$T/err"
rc=$?
[ $rc -eq 0 ] && grep -q "leep: needs source-class probabilities" "$T/err" && grep -q "knn" "$T/out" && ok || bad "missing probs handling (rc $rc): $(cat "$T/err")"
# with probs, LEEP and NCE run
"$X" score --features $G --labels $L --probs $P --method leep,nce --csv >"$T/out" 2>"$T/err" && [ "$(wc -l <"$T/out")" -eq 3 ] && ok || bad "leep/nce with probs: $(cat "$T/err")"
# every method runs on the good input with probs
"$X" score --features $G $R/feat_weak.npy --labels $L --probs $P $R/probs2.npy --method all --csv >"$T/out" 2>"$T/err" && ok || bad "all methods: $(cat "$T/err")"
# models given as files of the same name in different directories are named by the
# shortest path suffix that tells them apart (not twice "features"); --names still wins
mkdir -p "$T/m/a" "$T/m/b"
cp $G "$T/m/a/features.npy"; cp $R/feat_weak.npy "$T/m/b/features.npy"
"$X" score --features "$T/m/a/features.npy" "$T/m/b/features.npy" --labels $L --method knn --csv >"$T/out" 2>"$T/err" || bad "same-basename run: $(cat "$T/err")"
grep -q "^a/features,knn," "$T/out" && grep -q "^b/features,knn," "$T/out" && ok || bad "same-basename names: $(cat "$T/out")"
"$X" score --features "$T/m/a/features.npy" "$T/m/b/features.npy" --labels $L --method knn --csv --names good,weak >"$T/out" 2>/dev/null
grep -q "^good,knn," "$T/out" && grep -q "^weak,knn," "$T/out" && ok || bad "--names with same basenames: $(cat "$T/out")"

echo "score.sh: $pass passed, $fail failed"
[ $fail -eq 0 ]
