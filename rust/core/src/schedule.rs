//! Learning-rate schedules of a [`crate::Trainer`], as PyTorch's `torch.optim.lr_scheduler`
//! and Keras' callbacks define them.
//!
//! - [`Schedule::Constant`]: the optimizer's learning rate throughout.
//! - [`Schedule::Step`] (`StepLR`): times `gamma` every `step_size` epochs.
//! - [`Schedule::Cosine`] (`LinearLR` warm-up then `CosineAnnealingLR`): from `lr / n` up to
//!   `lr` over the first `warmup` epochs, then half a cosine down to `min_lr` at epoch `epochs`
//!   (and `min_lr` after it), recomputed at every optimizer step.
//! - [`Schedule::Plateau`] (`ReduceLROnPlateau`, mode `min`, relative threshold): times `factor`
//!   when the validation perplexity has not improved by more than `threshold` (relative) for
//!   more than `patience` epochs, then `cooldown` epochs of grace; never below `min_lr`. With
//!   `restore_best` each reduction goes back to the best epoch's parameters and starts the
//!   optimizer's moments afresh.
//!
//! The step, cosine and constant rates are functions of the position in training only; the
//! plateau schedule's state ([`PlateauState`]) is saved in checkpoints, so a resumed run
//! follows the same rates bit for bit.

use crate::error::{check_positive, check_positive_finite};
use crate::{Error, Result};
use serde::{Deserialize, Serialize};

/// A learning-rate schedule (see the [module](self) documentation).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name", rename_all = "snake_case", deny_unknown_fields)]
pub enum Schedule {
    /// The optimizer's learning rate throughout.
    #[default]
    Constant,
    /// Times `gamma` every `step_size` epochs.
    Step {
        /// Epochs between decays.
        step_size: u64,
        /// Factor of each decay.
        gamma: f64,
    },
    /// Linear warm-up over `warmup` epochs, then cosine annealing to `min_lr` at `epochs`.
    Cosine {
        /// The epoch at which the rate reaches `min_lr`.
        epochs: u64,
        /// Warm-up epochs (0: none).
        warmup: u64,
        /// The final rate.
        min_lr: f64,
    },
    /// Times `factor` after more than `patience` epochs without a better validation perplexity.
    Plateau {
        /// Factor of each reduction, in (0, 1).
        factor: f64,
        /// Epochs without improvement tolerated before a reduction.
        patience: u64,
        /// Epochs after a reduction during which no epoch counts as bad.
        cooldown: u64,
        /// The smallest rate.
        min_lr: f64,
        /// Relative improvement that counts as better (PyTorch's default 1e-4).
        threshold: f64,
        /// Whether each reduction goes back to the best epoch's parameters (with fresh
        /// optimizer moments).
        restore_best: bool,
    },
}

/// The state of a [`Schedule::Plateau`] between epochs.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlateauState {
    /// The best validation perplexity seen (`None` before the first).
    pub best: Option<f64>,
    /// Epochs since the last improvement.
    pub bad_epochs: u64,
    /// Epochs of cooldown left.
    pub cooldown_left: u64,
    /// The current learning rate (`None`: the optimizer's base rate).
    pub lr: Option<f64>,
}

/// What a schedule decides at the end of an epoch.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Decision {
    /// Whether the learning rate was lowered.
    pub reduced: bool,
    /// Whether the best parameters are to be restored (a plateau reduction with `restore_best`).
    pub restore_best: bool,
}

impl Schedule {
    /// Parses a schedule from its JSON form, e.g. `{"name": "step", "step_size": 10, "gamma":
    /// 0.5}`, and checks it.
    pub fn from_json(json: &str) -> Result<Self> {
        let expected = "a schedule (see seqrnn::schedule)";
        let value: serde_json::Value =
            serde_json::from_str(json).map_err(|e| Error::invalid("schedule", expected, e))?;
        let fields = value.as_object().map_or(0, serde_json::Map::len);
        let s: Schedule =
            serde_json::from_value(value).map_err(|e| Error::invalid("schedule", expected, e))?;
        if s == Schedule::Constant && fields != 1 {
            // serde lets a unit variant of an internally tagged enum ignore other fields
            let msg = "unknown field: \"constant\" takes no settings";
            return Err(Error::invalid("schedule", expected, msg));
        }
        s.validate()?;
        Ok(s)
    }

    /// The JSON form [`Schedule::from_json`] reads.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Fails unless every setting is in range.
    pub fn validate(&self) -> Result<()> {
        let unit = |what: &str, v: f64| {
            if v > 0.0 && v < 1.0 {
                Ok(())
            } else {
                Err(Error::invalid(what, "a number in (0, 1)", v))
            }
        };
        let non_negative = |what: &str, v: f64| {
            if v.is_finite() && v >= 0.0 {
                Ok(())
            } else {
                Err(Error::invalid(what, "a finite number >= 0", v))
            }
        };
        match *self {
            Schedule::Constant => Ok(()),
            Schedule::Step { step_size, gamma } => {
                check_positive(
                    "step_size",
                    usize::try_from(step_size).unwrap_or(usize::MAX),
                )?;
                check_positive_finite("gamma", gamma)
            }
            Schedule::Cosine {
                epochs,
                warmup,
                min_lr,
            } => {
                check_positive("epochs", usize::try_from(epochs).unwrap_or(usize::MAX))?;
                if warmup > epochs {
                    return Err(Error::invalid(
                        "warmup",
                        format!("at most epochs ({epochs})"),
                        warmup,
                    ));
                }
                non_negative("min_lr", min_lr)
            }
            Schedule::Plateau {
                factor,
                min_lr,
                threshold,
                ..
            } => {
                unit("factor", factor)?;
                non_negative("min_lr", min_lr)?;
                non_negative("threshold", threshold)
            }
        }
    }

    /// The learning rate of the optimizer step at `position` (in epochs: finished epochs plus
    /// the fraction of the current one done before this step, `1 / batches` per minibatch)
    /// for base rate `base`; a plateau schedule's rate is `state.lr`.
    pub fn lr(&self, base: f64, position: f64, batches: usize, state: &PlateauState) -> f64 {
        match *self {
            Schedule::Constant => base,
            Schedule::Step { step_size, gamma } => {
                let decays = (position.floor() as u64) / step_size.max(1);
                base * gamma.powi(i32::try_from(decays).unwrap_or(i32::MAX))
            }
            Schedule::Cosine {
                epochs,
                warmup,
                min_lr,
            } => {
                let (epochs, warmup) = (epochs as f64, warmup as f64);
                if position < warmup {
                    let step = 1.0 / batches.max(1) as f64;
                    return base * ((position + step) / warmup).min(1.0);
                }
                let done = ((position - warmup) / (epochs - warmup).max(f64::MIN_POSITIVE))
                    .clamp(0.0, 1.0);
                min_lr + (base - min_lr) * 0.5 * (1.0 + (std::f64::consts::PI * done).cos())
            }
            Schedule::Plateau { .. } => state.lr.unwrap_or(base),
        }
    }

    /// Updates `state` with the validation perplexity `metric` of the epoch just finished
    /// (`None` without validation data: a plateau schedule then never reduces).
    pub fn end_epoch(&self, base: f64, metric: Option<f64>, state: &mut PlateauState) -> Decision {
        let Schedule::Plateau {
            factor,
            patience,
            cooldown,
            min_lr,
            threshold,
            restore_best,
        } = *self
        else {
            return Decision::default();
        };
        let Some(metric) = metric else {
            return Decision::default();
        };
        let best = state.best.unwrap_or(f64::INFINITY); // PyTorch starts from inf
        let better = metric < best * (1.0 - threshold);
        if better {
            (state.best, state.bad_epochs) = (Some(metric), 0);
        } else {
            state.bad_epochs += 1; // a NaN perplexity is never better
        }
        if state.cooldown_left > 0 {
            state.cooldown_left -= 1;
            state.bad_epochs = 0;
        }
        if state.bad_epochs <= patience {
            return Decision::default();
        }
        let lr = state.lr.unwrap_or(base);
        let new_lr = (lr * factor).max(min_lr);
        (state.cooldown_left, state.bad_epochs) = (cooldown, 0);
        if lr - new_lr <= 1e-8 * lr {
            return Decision::default(); // at min_lr already (PyTorch's eps)
        }
        state.lr = Some(new_lr);
        Decision {
            reduced: true,
            restore_best,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plateau(patience: u64, cooldown: u64) -> Schedule {
        Schedule::Plateau {
            factor: 0.5,
            patience,
            cooldown,
            min_lr: 0.0,
            threshold: 1e-4,
            restore_best: false,
        }
    }

    #[test]
    fn plateau_reduces_after_more_than_patience_bad_epochs_as_pytorch() {
        // torch.optim.lr_scheduler.ReduceLROnPlateau(patience=1, cooldown=1, factor=0.5) fed
        // these losses gives these rates after each step() call.
        let metrics = [10.0, 9.0, 9.5, 9.5, 9.5, 9.5, 9.5, 8.0, 8.0, 8.0];
        let expected = [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.125];
        let s = plateau(1, 1);
        let mut state = PlateauState::default();
        for (m, e) in metrics.iter().zip(expected) {
            s.end_epoch(1.0, Some(*m), &mut state);
            assert_eq!(s.lr(1.0, 0.0, 1, &state), e, "after {m}");
        }
    }

    #[test]
    fn plateau_stops_at_min_lr_and_ignores_missing_metrics() {
        let s = Schedule::Plateau {
            factor: 0.1,
            patience: 0,
            cooldown: 0,
            min_lr: 0.05,
            threshold: 0.0,
            restore_best: true,
        };
        let mut state = PlateauState::default();
        assert!(!s.end_epoch(1.0, Some(1.0), &mut state).reduced);
        let d = s.end_epoch(1.0, Some(2.0), &mut state);
        assert!(d.reduced && d.restore_best);
        assert_eq!(s.lr(1.0, 0.0, 1, &state), 0.1);
        assert!(s.end_epoch(1.0, Some(2.0), &mut state).reduced);
        assert_eq!(s.lr(1.0, 0.0, 1, &state), 0.05);
        assert!(!s.end_epoch(1.0, Some(2.0), &mut state).reduced);
        assert!(!s.end_epoch(1.0, None, &mut state).reduced);
    }

    #[test]
    fn step_and_cosine_follow_their_formulas() {
        let step = Schedule::Step {
            step_size: 2,
            gamma: 0.1,
        };
        let s = PlateauState::default();
        let rates: Vec<f64> = (0..5)
            .map(|e| step.lr(1.0, e as f64 + 0.5, 4, &s))
            .collect();
        assert_eq!(rates, [1.0, 1.0, 0.1, 0.1, 0.1f64.powi(2)]);
        let cos = Schedule::Cosine {
            epochs: 3,
            warmup: 1,
            min_lr: 0.0,
        };
        assert_eq!(cos.lr(1.0, 0.0, 4, &s), 0.25); // the first step of the warm-up
        assert_eq!(cos.lr(1.0, 0.75, 4, &s), 1.0);
        assert_eq!(cos.lr(1.0, 1.0, 4, &s), 1.0);
        assert!((cos.lr(1.0, 2.0, 4, &s) - 0.5).abs() < 1e-15);
        assert!(cos.lr(1.0, 3.0, 4, &s).abs() < 1e-15);
        assert!(cos.lr(1.0, 7.0, 4, &s).abs() < 1e-15);
    }

    #[test]
    fn json_round_trip_and_errors() {
        let s = Schedule::from_json(r#"{"name": "step", "step_size": 3, "gamma": 0.5}"#).unwrap();
        assert_eq!(Schedule::from_json(&s.to_json()).unwrap(), s);
        for bad in [
            r#"{"name": "step", "step_size": 0, "gamma": 0.5}"#,
            r#"{"name": "cosine", "epochs": 2, "warmup": 3, "min_lr": 0}"#,
            r#"{"name": "plateau", "factor": 1.5, "patience": 1, "cooldown": 0, "min_lr": 0, "threshold": 0, "restore_best": false}"#,
            r#"{"name": "exponential"}"#,
            r#"{"name": "constant", "lr": 1}"#,
        ] {
            assert!(
                matches!(Schedule::from_json(bad), Err(Error::InvalidArgument { .. })),
                "{bad}: {:?}",
                Schedule::from_json(bad)
            );
        }
    }
}
