#!/usr/bin/env bash
# Regenerate the committed eegmat leaderboard (leaderboard/eegmat_loso.* and eegmat_fewshot.*)
# from the real recordings, on CPU. CPU-cheap settings: trainer=fast (3 epochs, patience 2),
# one thread, 2 seeds for leave-one-subject-out, 1 seed x 3 draws for few-shot.
# Finished folds are skipped on a re-run (results store in runs/leaderboard/results).
# Usage: bash leaderboard/regenerate.sh [steps]
#        steps: any of loso fewshot probe main pretrain foundation foundation_fewshot datasets
#        muse_n170 tables fixed_split within audit align honest_tables, classical and
#        classical_tables (the classical rows of every committed table), plus the long opt-in
#        steps foundation_adapt_probes + foundation_adapt (CBraMod on every eegmat subject
#        under the original recipe at ADAPT_EPOCHS=3 epochs: ~45 min per configuration and
#        core; the committed rows ran as two parallel lanes, pretrained and random init),
#        foundation_adapt_gpu (the full 50-epoch recipe on CUDA), foundation_probes (ten
#        foundation models, probe), foundation_fixed_split, specialist_honest and
#        foundation_tables
#        (default: the short steps, in that order). Issue 15 studies (opt-in, own runs dir
#        EEGBENCH_STUDY_RUNS, default runs/studies, never the leaderboard store): studies =
#        study_objectives study_scale study_patch study_meg, then studies_tables renders
#        leaderboard/studies/. PYTHON=/path/to/python,
#        EEGBENCH_DATA_ROOT=... override.
# Foundation model: a small CBraMod (4 layers) pretrained by the suite's own masked-patch
# objective on every shared EEG dataset except eegmat (conf/exp/pretrain_pooled.yaml), then
# fine-tuned / linearly probed on eegmat, beside the same architecture from random init.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
export OMP_NUM_THREADS=1 EEGBENCH_DATA_ROOT=${EEGBENCH_DATA_ROOT:-../shared/data}
RUNS=${EEGBENCH_LEADERBOARD_RUNS:-runs/leaderboard}
# One results store for every step (each experiment would otherwise keep its own,
# <runs>/<experiment.name>/results): the committed tables are built from it.
STORE=(paths.runs_dir=$RUNS paths.results_dir=$RUNS/results)
COMMON=(trainer=fast trainer.num_threads=1 "${STORE[@]}")
STEPS=${*:-loso fewshot probe main pretrain foundation foundation_fewshot datasets muse_n170 \
          tables fixed_split within audit align honest_tables}
# Within-subject ERP recordings whose recipes may not be present in every checkout.
ERP_WITHIN=(muse_visual_p300_eegnotebooks)
for extra in muse_auditory_p300_eegnotebooks muse_n170_eegnotebooks; do
  [ -f "data_recipes/$extra.yaml" ] && ERP_WITHIN+=("$extra")
done
CKPT=$RUNS/pretrain/cbramod_pooled_no_eegmat.pt
# Issue 15 studies: a separate runs dir, so that study rows never enter the leaderboard store.
RUNS_STUDIES=${EEGBENCH_STUDY_RUNS:-runs/studies}
STUDY_STORE=(paths.runs_dir=$RUNS_STUDIES paths.results_dir=$RUNS_STUDIES/results)
STUDY_COMMON=(trainer.num_threads=1 "${STUDY_STORE[@]}" 'seeds=[0]')
# Objective study: the pool of windows of >= 2 s holds 64-channel eegmmidb windows; on a free
# core 1000 steps take ~5-10 min (contrastive, two views per window, about twice that).
STUDY_STEPS=${STUDY_STEPS:-[0,100,400,1000]}  # pretraining steps at which encoders are probed
STUDY_MINUTES=${STUDY_MINUTES:-9}             # wall-clock cap per pretrained encoder
STUDY_TARGETS=${STUDY_TARGETS:-physionet_eegmat muse_visual_p300_eegnotebooks}
STUDY_CORPUS=${STUDY_CORPUS:-null}  # null = leave-one-dataset-out; or e.g. [ssvep_exo_kalunga2016]
STUDY_FT_TARGETS=${STUDY_FT_TARGETS:-muse_visual_p300_eegnotebooks}
STUDY_FT_EPOCHS=${STUDY_FT_EPOCHS:-3}
STUDY_FT_STEPS=${STUDY_FT_STEPS:-[0,400,1000]}  # encoders fine-tuned (a subset of STUDY_STEPS)
SCALE_STEPS=${SCALE_STEPS:-[0,400,1600]}
SCALE_MINUTES=${SCALE_MINUTES:-18}  # base (4.9 M), 1600 steps on a free core: 5.4 min on the
                                    # eegmat pool, ~16 min on the visual P300 pool (eegmat in it)
SCALE_TARGETS=${SCALE_TARGETS:-physionet_eegmat muse_visual_p300_eegnotebooks}
# patch transformers: the suite's default trainer (eegbench.training.loop.TrainerSpec: AdamW 1e-3,
# batch 64, up to 30 epochs, early stopping with patience 6 on the validation subjects' loss,
# balanced class weights), fixed a priori; ~6-10 s per epoch per core on the visual P300 set.
# A 3-epoch budget (PATCH_EPOCHS=3 PATCH_PATIENCE=2) left every embedding at chance.
PATCH_TRAINER=(trainer.max_epochs=${PATCH_EPOCHS:-30} trainer.patience=${PATCH_PATIENCE:-6})
SMALL_CBRAMOD=(+model.params.arch_params.n_layer=4 +model.params.arch_params.dim_feedforward=256
               +model.params.arch_params.nhead=4)

# Issue 18: CBraMod adapted the way its authors adapt it (conf/model/cbramod.yaml recipe: AdamW,
# lr 1e-4 / head 5e-4, wd 0.05, per-step cosine, label smoothing 0.1, clipping 1, MLP head on
# all patch tokens), pretrained by `pretrain` vs the same architecture from random init, each as
# linear_probe (step foundation_adapt_probes), finetune and lp_ft (foundation_adapt). Reduced
# budget on CPU: 3 epochs of the recipe (its cosine schedule spans the 3 epochs; no early
# stopping, best validation epoch restored) instead of the published 50 - the most 36 folds x
# 4 configurations fit on 2 cores in one working session; the rows' budget column and the
# `train loss fell` column say what was run. The GPU step runs the full 50.
ADAPT_EPOCHS=${ADAPT_EPOCHS:-3}
adapt_cbramod() {  # arguments: extra overrides, passed through
  for adaptation in finetune lp_ft; do
    $PY -m eegbench model=cbramod model.adaptation=$adaptation model.params.checkpoint=$CKPT \
        "${STORE[@]}" 'seeds=[0]' "$@"
    $PY -m eegbench model=cbramod model.adaptation=$adaptation model.params.checkpoint=$CKPT \
        model.params.init=random "${STORE[@]}" 'seeds=[0]' "$@"
  done
}

# Rows shared by several steps (the classical step and the per-table steps run the same
# commands; a finished fold is skipped on a second call).
classical_fixed_split() {  # eegmat on the CBraMod paper's 28/4/4 subject split
  $PY -m eegbench -m model=ts_lr,fb_ts_lr protocol=fixed_split "${COMMON[@]}" 'seeds=[0]'
}
classical_within() {  # blocked K-fold, leave-one-run-out and leave-one-session-out
  $PY -m eegbench -m model=ts_lr,fb_ts_lr dataset=ssvep_exo_kalunga2016 \
      protocol=blocked_kfold "${COMMON[@]}" 'seeds=[0]'
  for ds in "${ERP_WITHIN[@]}"; do
    $PY -m eegbench -m model=xdawn_ts_lr,erp_lda dataset=$ds \
        protocol=blocked_kfold,within_run "${COMMON[@]}" 'seeds=[0]'
  done
  $PY -m eegbench -m model=xdawn_ts_lr,erp_lda dataset=muse_visual_p300_eegnotebooks \
      protocol=cross_session "${COMMON[@]}" 'seeds=[0]'
}
leakage_audit() {  # arguments: the models (comma-separated)
  $PY -m eegbench -m model=$1 dataset=physionet_eegmat,ssvep_exo_kalunga2016 \
      +audit=leakage "${COMMON[@]}" 'seeds=[0]'
}
classical_align() {  # label-free subject alignment under leave-one-subject-out
  $PY -m eegbench -m model=ts_lr dataset=physionet_eegmat,ssvep_exo_kalunga2016 \
      protocol.align=riemannian,euclidean "${COMMON[@]}" 'seeds=[0]'
}
eegnet_fixed_split() {
  $PY -m eegbench model=eegnet protocol=fixed_split "${COMMON[@]}" 'seeds=[0,1,2]'
}
eegnet_blocked_kfold() {
  $PY -m eegbench -m model=eegnet dataset=ssvep_exo_kalunga2016,muse_visual_p300_eegnotebooks \
      protocol=blocked_kfold "${COMMON[@]}" 'seeds=[0]'
}

for step in $STEPS; do
  case $step in
    loso)  # leave-one-subject-out: ts_lr and eegnet (Hydra multirun, conf/exp/loso.yaml)
      $PY -m eegbench +exp=loso "${COMMON[@]}" 'seeds=[0,1]' ;;
    fewshot)  # time-ordered shots (first k trials per class), both modes, on the datasets where
      # few-shot measures the task (eegmat is refused: each class is a whole recording).
      # SSVEP: 8 trials per class, rest trials first in each recording -> order=per_class.
      for mode in cross_subject_then_calibrate from_scratch; do
        $PY -m eegbench -m model=ts_lr,fb_ts_lr dataset=ssvep_exo_kalunga2016 protocol=fewshot \
            'protocol.shots=[1,2,4]' protocol.order=per_class protocol.mode=$mode \
            "${COMMON[@]}" 'seeds=[0]'
        $PY -m eegbench -m model=xdawn_ts_lr,erp_lda dataset=muse_visual_p300_eegnotebooks \
            protocol=fewshot protocol.mode=$mode "${COMMON[@]}" 'seeds=[0]'
      done ;;
    probe)  # layer-wise linear probes of each fold's EEGNet (same config hash as `loso`)
      $PY -m eegbench +exp=loso model=eegnet "${COMMON[@]}" 'seeds=[0]' \
          +protocol.layer_probe=true ;;
    main)  # the README's main job: ts_lr + EEGNet, default trainer (30 epochs, patience 6)
      $PY -m eegbench +exp=loso "${STORE[@]}" ;;
    pretrain)  # self-supervised CBraMod on the pooled non-eegmat recordings (8 min budget)
      $PY -m eegbench pretrain +exp=pretrain_pooled "${STORE[@]}" ;;
    foundation)  # CBraMod on eegmat: pretrained fine-tune / linear probe vs random init
      $PY -m eegbench model=cbramod model.adaptation=finetune model.params.checkpoint=$CKPT \
          "${COMMON[@]}" 'seeds=[0]'
      # linear probe: frozen encoder, converged scikit-learn logistic regression (no epochs)
      $PY -m eegbench model=cbramod model.adaptation=linear_probe \
          model.params.checkpoint=$CKPT trainer.num_threads=1 "${STORE[@]}" 'seeds=[0]'
      $PY -m eegbench model=cbramod model.adaptation=from_scratch "${SMALL_CBRAMOD[@]}" \
          "${COMMON[@]}" 'seeds=[0]' ;;
    foundation_fewshot)  # pretrained CBraMod, linear head calibrated on k shots only
      $PY -m eegbench +exp=fewshot model=cbramod model.adaptation=linear_probe \
          model.params.checkpoint=$CKPT protocol.mode=from_scratch trainer.num_threads=1 \
          "${STORE[@]}" 'seeds=[0]' ;;
    datasets)  # the other multi-subject datasets: SSVEP (4 classes) and Muse P300 (ERP),
      # plus the filter-bank tangent space on all three
      $PY -m eegbench -m model=ts_lr,xdawn_ts_lr,eegnet \
          dataset=ssvep_exo_kalunga2016,muse_visual_p300_eegnotebooks \
          trainer.num_threads=1 "${STORE[@]}"
      $PY -m eegbench -m model=fb_ts_lr \
          dataset=physionet_eegmat,ssvep_exo_kalunga2016,muse_visual_p300_eegnotebooks \
          trainer.num_threads=1 "${STORE[@]}" ;;
    muse_n170)  # N170 faces vs houses (Muse, 5 participants): leave-one-subject-out. The
      # auditory P300 set has one participant: within-subject protocols only, not run here.
      $PY -m eegbench -m model=ts_lr,xdawn_ts_lr,eegnet dataset=muse_n170_eegnotebooks \
          trainer.num_threads=1 "${STORE[@]}" ;;
    foundation_probes)  # ten foundation models at their published sizes, frozen encoder + the
      # converged probe (C = 1 a priori), LOSO on every eegmat subject. Random initialisation:
      # no published weights can be fetched here; the rows say init=random in their setting.
      # The frozen encoder is the same in every fold, so each dataset is encoded once per seed
      # (eegbench/features/frozen_encoder.py) and each fold fits only the probe.
      for m in cbramod labram biot eegpt; do
        $PY -m eegbench model=$m model.adaptation=linear_probe model.params.init=random \
            trainer.num_threads=1 "${STORE[@]}" 'seeds=[0]'
      done
      for m in reve luna signal_jepa bendr codebrain eegdino; do
        $PY -m eegbench model=$m model.adaptation=linear_probe +model.params.init=random \
            trainer.num_threads=1 "${STORE[@]}" 'seeds=[0]'
      done ;;
    foundation_adapt_probes)  # the two linear_probe rows of foundation_adapt (cheap: encoded once)
      for init in pretrained random; do
        $PY -m eegbench model=cbramod model.adaptation=linear_probe model.params.checkpoint=$CKPT \
            model.params.init=$init trainer.num_threads=1 "${STORE[@]}" 'seeds=[0]'
      done ;;
    foundation_fixed_split)  # the CBraMod paper's 28/4/4 eegmat split (one fold): CBraMod
      # (suite-pretrained and random init), LaBraM and BIOT (random init, published sizes) under
      # linear_probe, finetune and lp_ft with their recipes at ADAPT_EPOCHS epochs; EEGPT probe
      for adaptation in linear_probe finetune lp_ft; do
        for init in pretrained random; do
          $PY -m eegbench model=cbramod model.adaptation=$adaptation protocol=fixed_split \
              model.params.checkpoint=$CKPT model.params.init=$init trainer.num_threads=1 \
              trainer.max_epochs=$ADAPT_EPOCHS trainer.device=cpu "${STORE[@]}" 'seeds=[0]'
        done
        for m in labram biot; do
          $PY -m eegbench model=$m model.adaptation=$adaptation protocol=fixed_split \
              model.params.init=random trainer.num_threads=1 trainer.max_epochs=$ADAPT_EPOCHS \
              trainer.device=cpu "${STORE[@]}" 'seeds=[0]'
        done
      done
      $PY -m eegbench model=eegpt model.adaptation=linear_probe protocol=fixed_split \
          model.params.init=random trainer.num_threads=1 "${STORE[@]}" 'seeds=[0]' ;;
    foundation_adapt)  # all 36 eegmat subjects, LOSO, recipe at ADAPT_EPOCHS epochs (CPU)
      adapt_cbramod trainer.max_epochs=$ADAPT_EPOCHS trainer.num_threads=1 trainer.device=cpu ;;
    foundation_adapt_gpu)  # the same with the full recipe (50 epochs) on a CUDA machine
      adapt_cbramod trainer.device=cuda ;;
    foundation_tables)  # ship the foundation-model and EEGNet rows of this session's store
      # together with the rows already shipped, then rebuild every committed table
      $PY -m eegbench.leaderboard --results leaderboard/rows.jsonl $RUNS/results \
          --export-rows leaderboard/rows.jsonl
      $PY -m eegbench.leaderboard --committed
      $PY -m eegbench.leaderboard.site --out leaderboard ;;
    tables)  # tables, statistics, HTML and plots
      $PY -m eegbench.leaderboard --results $RUNS/results --out leaderboard \
          --name eegmat_loso --protocol loso --dataset physionet_eegmat --probes exclude
      $PY -m eegbench.leaderboard --results $RUNS/results --out leaderboard \
          --name eegmat_layer_probes --protocol loso --dataset physionet_eegmat --probes only
      $PY -m eegbench.leaderboard --results $RUNS/results --out leaderboard \
          --name all_datasets_loso --protocol loso --probes exclude ;;
    classical)  # every committed table's classical rows, in one CPU-sized step (~30 min on
      # 2 cores): all 36 eegmat subjects and every shared dataset, seed 0. Deep rows come from
      # the steps above (loso, within, audit, fixed_split, ...), which this step does not run.
      $PY -m eegbench -m model=ts_lr,fb_ts_lr \
          dataset=physionet_eegmat,ssvep_exo_kalunga2016 "${COMMON[@]}" 'seeds=[0]'
      $PY -m eegbench -m model=ts_lr,xdawn_ts_lr,erp_lda \
          dataset=muse_visual_p300_eegnotebooks,muse_n170_eegnotebooks "${COMMON[@]}" 'seeds=[0]'
      classical_fixed_split
      classical_within
      leakage_audit ts_lr
      classical_align ;;
    specialist_fast)  # EEGNet beside the classical rows, leave-one-subject-out on every
      # multi-subject dataset, trainer=fast (3 epochs, patience 2): a smoke-level budget that
      # the tables' budget column states (~15 min on 2 cores)
      $PY -m eegbench -m model=eegnet dataset=ssvep_exo_kalunga2016,muse_visual_p300_eegnotebooks,muse_n170_eegnotebooks,physionet_eegmat \
          "${COMMON[@]}" 'seeds=[0]' ;;
    classical_tables)  # ship the rows, rebuild every table of leaderboard/tables.yaml from
      # them (what a fresh clone can do without running a model), and the site index
      $PY -m eegbench.leaderboard --results $RUNS/results --export-rows leaderboard/rows.jsonl
      $PY -m eegbench.leaderboard --committed
      $PY -m eegbench.leaderboard.site --out leaderboard ;;
    fixed_split)  # eegmat on the CBraMod paper's 28/4/4 subject split (published figure beside)
      classical_fixed_split
      eegnet_fixed_split ;;
    within)  # within-subject protocols: blocked K-fold (any dataset), leave-one-run-out and
      # leave-one-session-out (visual P300: 45 runs, subjects 1-3 in several sessions)
      classical_within
      eegnet_blocked_kfold ;;
    audit)  # leakage audits: leaky variants of leave-one-subject-out vs the clean protocol
      leakage_audit ts_lr,eegnet ;;
    specialist_honest)  # EEGNet (trainer=fast, the budget column says so) beside the classical
      # rows of the fixed-split, within-subject and leakage-audit tables
      eegnet_fixed_split
      eegnet_blocked_kfold
      for ds in "${ERP_WITHIN[@]}"; do
        $PY -m eegbench model=eegnet dataset=$ds protocol=within_run "${COMMON[@]}" 'seeds=[0]'
      done
      leakage_audit eegnet ;;
    align)  # label-free subject alignment under leave-one-subject-out
      classical_align ;;
    honest_tables)  # tables of issue 11 (chance tests, CIs, CD diagram, published figures)
      $PY -m eegbench.leaderboard --results $RUNS/results --out leaderboard \
          --name eegmat_fixed_split --protocol fixed_split --dataset physionet_eegmat
      $PY -m eegbench.leaderboard --results $RUNS/results --out leaderboard \
          --name within_subject --protocol blocked_kfold within_run cross_session
      $PY -m eegbench.leaderboard --results $RUNS/results --out leaderboard \
          --name fewshot_time_ordered --protocol fewshot
      $PY -m eegbench.leaderboard --results $RUNS/results --out leaderboard \
          --name leakage_audit --protocol loso loso~leaky:window_kfold \
          loso~clean:normalise_train loso~leaky:normalise_all loso~leaky:early_stop_on_test \
          --dataset physionet_eegmat ssvep_exo_kalunga2016 --probes exclude
      $PY -m eegbench.leaderboard --results $RUNS/results --out leaderboard \
          --name loso_alignment --protocol loso --probes exclude ;;
    studies)  # every study of issue 15 (~1-2 h on 2 busy CPU cores with the defaults)
      bash "$0" study_objectives study_scale study_patch study_meg studies_tables ;;
    study_objectives)  # five objectives x {eegmat, visual P300}: leave-one-dataset-out corpus,
      # encoders at STUDY_STEPS probed by the converged linear probe (frozen encoder encoded
      # once per checkpoint) under leave-one-subject-out
      for ds in $STUDY_TARGETS; do
        $PY -m eegbench study +exp=objective_study dataset=$ds "study.steps=$STUDY_STEPS" \
            'study.adaptations=[linear_probe]' study.max_minutes_per_objective=$STUDY_MINUTES \
            "study.corpus=$STUDY_CORPUS" "${STUDY_COMMON[@]}"
      done
      # then a fixed fine-tune budget (STUDY_FT_EPOCHS epochs of the CBraMod recipe, the same
      # for every encoder) of the encoders at STUDY_FT_STEPS, on STUDY_FT_TARGETS (the ERP
      # set: 5 folds; 36 eegmat folds x 15 encoders exceed a CPU session); the encoders are
      # reused, never pretrained again (study.reuse_only)
      for ds in $STUDY_FT_TARGETS; do
        $PY -m eegbench study +exp=objective_study dataset=$ds "study.steps=$STUDY_FT_STEPS" \
            'study.adaptations=[finetune]' study.reuse_only=true \
            study.max_minutes_per_objective=$STUDY_MINUTES "study.corpus=$STUDY_CORPUS" \
            trainer.max_epochs=$STUDY_FT_EPOCHS trainer.device=cpu "${STUDY_COMMON[@]}"
      done ;;
    study_scale)  # masked_patch at three CBraMod sizes (0.2 M to 4.9 M), probed on each of
      # SCALE_TARGETS (leave-one-dataset-out corpus each)
      for ds in $SCALE_TARGETS; do
        $PY -m eegbench study +exp=scale_study dataset=$ds "study.steps=$SCALE_STEPS" \
            study.max_minutes_per_objective=$SCALE_MINUTES "${STUDY_COMMON[@]}"
      done ;;
    study_patch)  # four patch embeddings vs xDAWN + tangent space and ERP features + LDA:
      # visual P300 leave-one-subject-out, and every ERP set leave-one-run-out within subject;
      # transformers under PATCH_TRAINER (~30 min of one core with the defaults)
      $PY -m eegbench +exp=patch_embedding_study "${PATCH_TRAINER[@]}" "${STUDY_COMMON[@]}"
      for ds in "${ERP_WITHIN[@]}"; do
        $PY -m eegbench -m dataset=$ds protocol=within_run "${PATCH_TRAINER[@]}" \
            "${STUDY_COMMON[@]}" \
            model=patch_tf_linear,patch_tf_conv,patch_tf_spectral,patch_tf_channel_mix,xdawn_ts_lr,erp_lda
      done ;;
    study_meg)  # the VQ tokenizer pretrained on EEG + MEG vs EEG only (and its random init),
      # TOK_SEEDS pretraining seeds, linear probe on the MEG recording (8 trigger codes) under
      # blocked K-fold, beside ts_lr and fb_ts_lr
      TOK=(pretrain.max_steps=${TOK_STEPS:-2000} pretrain.max_minutes=$STUDY_MINUTES \
           'pretrain.save_at_steps=[0]' "${STUDY_STORE[@]}")
      for seed in ${TOK_SEEDS:-0 1 2}; do
        sfx=$([ "$seed" = 0 ] || echo "_seed$seed")
        for corpus in eeg_meg eeg_only; do
          $PY -m eegbench pretrain +exp=pretrain_tokenizer_$corpus "${TOK[@]}" pretrain.seed=$seed \
              pretrain.output=$RUNS_STUDIES/pretrain/brain_tokenizer_$corpus$sfx.pt
        done
        for ck in eeg_meg$sfx eeg_only$sfx eeg_meg${sfx}_step0; do
          $PY -m eegbench model=brain_tokenizer dataset=meg_elekta_3ch protocol=blocked_kfold \
              model.adaptation=linear_probe \
              model.params.checkpoint=$RUNS_STUDIES/pretrain/brain_tokenizer_$ck.pt \
              "${STUDY_COMMON[@]}"
        done
      done
      $PY -m eegbench -m model=ts_lr,fb_ts_lr dataset=meg_elekta_3ch protocol=blocked_kfold \
          "${STUDY_COMMON[@]}" ;;
    studies_tables)  # Markdown + CSV + plots of the studies, with provenance
      $PY -m eegbench.studies.report --runs $RUNS_STUDIES --out leaderboard/studies ;;
    *) echo "unknown step $step (allowed: loso fewshot probe main pretrain foundation" \
            "foundation_fewshot datasets muse_n170 tables fixed_split within audit align" \
            "honest_tables classical specialist_fast classical_tables foundation_adapt" \
            "foundation_adapt_gpu foundation_adapt_probes foundation_probes" \
            "foundation_fixed_split specialist_honest foundation_tables studies" \
            "study_objectives study_scale study_patch study_meg studies_tables)" >&2
       exit 2 ;;
  esac
done
