/* The overall defaults table: data, training and evaluation keys with RecBole 1.1 names and
 * meanings. Where our reference runs differ from RecBole's default the help says so.
 * Model tables (src/model/<model>.c) use the same mgsd_config_entry rows and are added
 * with mgsd_config_add_defaults(c, "SASRec", MGSD_CONFIG_LEVEL_MODEL, ...). */
#include "mgsd/config.h"

#define I MGSD_CONFIG_INT
#define F MGSD_CONFIG_FLOAT
#define B MGSD_CONFIG_BOOL
#define S MGSD_CONFIG_STR
#define IL MGSD_CONFIG_INT_LIST
#define SL MGSD_CONFIG_STR_LIST

static const mgsd_config_entry overall_defaults[] = {
    /* ---- run ---- */
    {"model", S, "", "model to train: SASRec, BERT4Rec, GRU4Rec or MGSD"},
    {"dataset", S, "", "dataset name: <data_path>/<dataset>/<dataset>.inter"},
    {"data_path", S, "dataset/", "directory holding one folder per dataset"},
    {"checkpoint_dir", S, "saved/", "where checkpoints are written"},
    {"checkpoint_steps", I, "0",
     "also write the resumable <Model>-last.ckpt every this many training steps, so a killed run loses at most that many (0: at the end of each epoch only)"},
    {"seed", I, "2020", "random seed for initialisation, shuffling, dropout and sampling"},
    {"reproducibility", B, "true", "deterministic kernels and reductions (may be slower)"},
    {"threads", I, "0", "threads for OpenMP and BLAS; 0 = all cores"},
    {"flush_denormals", B, "true", "flush denormal floats to zero (CPU FTZ/DAZ mode); false keeps strict IEEE arithmetic, up to ~2x slower late in training"},
    {"memory_limit", F, "0",
     "most GiB of memory mgsd may hold (parameters, optimiser state, activations, data); beyond it a clear out-of-memory error instead of the kernel killing the process. 0 = 90% of the memory available when mgsd starts (or the cgroup limit)"},
    {"show_progress", B, "false", "print a progress line per batch"},
    /* ---- data ---- */
    {"USER_ID_FIELD", S, "user_id", "column of the .inter file holding user tokens"},
    {"ITEM_ID_FIELD", S, "item_id", "column of the .inter file holding item tokens"},
    {"TIME_FIELD", S, "timestamp", "column of the .inter file used to order interactions"},
    {"MAX_ITEM_LIST_LENGTH", I, "50", "longest history fed to the model; longer ones keep the newest items"},
    {"user_inter_num_interval", S, "[5,inf)", "k-core filter: keep users whose interaction count is in this interval"},
    {"item_inter_num_interval", S, "[5,inf)", "k-core filter: keep items whose interaction count is in this interval"},
    {"rm_dup_inter", S, "None",
     "repeated (user, item) pairs: None keeps them all (RecBole's default); first / last keeps the earliest / latest in time order, before any other filter"},
    {"val_interval", S, "",
     "keep only rows whose column values lie in the intervals, before k-core filtering (RecBole's val_interval; YAML: {rating: \"[3,inf)\"}, here rating=[3,inf), several fields separated by blanks); .inter and CSV files"},
    /* ---- training ---- */
    {"epochs", I, "300", "maximum number of training epochs"},
    {"train_batch_size", I, "256", "training batch size (RecBole's default is 2048; our reference runs use 256)"},
    {"learner", S, "adam", "optimiser: adam (L2 weight decay in the gradient) or adamw (decoupled)"},
    {"learning_rate", F, "0.001", "Adam learning rate"},
    {"weight_decay", F, "0.0", "weight decay (L2 for adam, decoupled for adamw); 0 = off"},
    {"clip_grad_norm", F, "0.0", "clip the global gradient L2 norm to this value; 0 = off"},
    {"lr_schedule", S, "constant",
     "learning-rate schedule: constant | linear (per step: warm-up over warm_up_ratio x all steps, then linear decay to 0) | "
     "epoch_linear (the MGSD-WSS reference: stepped once per epoch, lr x (T - e) / (T - w) after a warm-up of w = warm_up_ratio x T epochs, T = steps per epoch)"},
    {"warm_up_ratio", F, "0.0", "warm-up share of lr_schedule=linear or epoch_linear, in [0, 1]"},
    {"loss_type", S, "CE", "CE (softmax over all items) or BPR (one sampled negative)"},
    {"eval_step", I, "1", "validate every this many epochs"},
    {"stopping_step", I, "10", "stop after this many validations without improvement"},
    /* ---- evaluation ---- */
    {"eval_batch_size", I, "4096", "evaluation batch size (users per batch)"},
    {"eval_mode", S, "full",
     "ranking for valid/test (RecBole's eval_args mode): full (all items) or uniN / popN (the target against N sampled negatives, e.g. uni100)"},
    {"eval_mask_history", B, "false",
     "remove the items of the user's history before the target from its ranking (as the ICLRec and CoSeRec code evaluates); false: RecBole's sequential full ranking, which keeps them"},
    {"metrics", SL, "[Hit,NDCG,MRR,Recall]",
     "metrics reported: Hit, NDCG, MRR, Recall, Precision; beyond accuracy (RecBole's): ItemCoverage, "
     "AveragePopularity, GiniIndex, ShannonEntropy, TailPercentage"},
    {"tail_ratio", F, "0.1", "TailPercentage's long tail: > 1, items with at most that many training interactions; "
                             "in (0, 1], that share of the items, rarest first"},
    {"topk", IL, "[5,10,20]", "cut-offs K of the top-K metrics"},
    {"valid_metric", S, "hit@20", "metric@K used for model selection and early stopping"},
    {"valid_metric_bigger", B, "true", "whether a larger valid_metric is better"},
    {"metric_decimal_place", I, "4", "decimals when reporting metrics"},
    /* ---- RecBole keys that change nothing here (declared so RecBole files load without warnings) ---- */
    {"use_gpu", B, "false", "RecBole key; no effect: mgsd computes on the CPU"},
    {"gpu_id", S, "", "RecBole key; no effect: mgsd computes on the CPU"},
    {"RATING_FIELD", S, "rating", "RecBole key; no effect: sequential models read user, item and time only"},
    {"repeatable", B, "true", "RecBole key; no effect: sequential evaluation always scores each user's own target"},
    {"worker", I, "0", "RecBole key; no effect: data loading runs in the main process"},
    {"state", S, "INFO", "RecBole key (log level); no effect"},
};

#undef I
#undef F
#undef B
#undef S
#undef IL
#undef SL

const mgsd_config_entry *mgsd_config_overall_defaults(size_t *n) {
    if (n) *n = sizeof overall_defaults / sizeof overall_defaults[0];
    return overall_defaults;
}
