//! The kubelet's user-namespace allocator, for the cri target: fixed-size,
//! 65536-aligned slots of host ids, one per pod with `hostUsers: false`,
//! taken at random among the free ones as the kubelet's bitmap allocator does
//! (kubernetes `pkg/kubelet/userns/userns_manager.go` allocates with
//! `AllocateNext` on an allocation map with a random scan strategy).
//!
//! State lives in a file under an exclusive lock, so two concurrent runs on
//! one host never hand out the same range; slots of processes that died are
//! reclaimed.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::facts::SubIdRange;

#[derive(Debug, thiserror::Error)]
pub enum AllocatorError {
    #[error("idsPerPod {0} must be a positive multiple of 65536")]
    IdsPerPod(u32),
    #[error(
        "the kubelet user's subordinate range {start}:{count} is not a multiple of {ids_per_pod}"
    )]
    Unaligned {
        start: u64,
        count: u64,
        ids_per_pod: u32,
    },
    #[error("allocator state {}", path.display())]
    State {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("no free user-namespace slot: all {slots} slots of {ids_per_pod} ids from {first} are in use")]
    Full {
        slots: u64,
        ids_per_pod: u32,
        first: u64,
    },
    #[error("slot {0} lies above 2^32")]
    AboveU32(u64),
    #[error("the kubelet's range {first}+{count} has {slots} slots of {ids_per_pod} ids, fewer than maxPods {max_pods}")]
    TooSmall {
        first: u64,
        count: u64,
        slots: u64,
        ids_per_pod: u32,
        max_pods: u32,
    },
}

/// The kubelet's default ids per pod.
pub const DEFAULT_IDS_PER_POD: u32 = 65536;
/// The kubelet's default pod limit: its range must hold this many slots.
pub const DEFAULT_MAX_PODS: u32 = 110;
/// The kubelet's range without a `kubelet` subordinate id entry: 65536 up to
/// 2^32 (kubernetes `pkg/kubelet/kubelet_getters.go` getKubeletMappings:
/// `defaultFirstID = 1 << 16`, `defaultLen = 1<<32 - defaultFirstID`).
pub const DEFAULT_FIRST_ID: u64 = 1 << 16;
pub const DEFAULT_LEN: u64 = (1 << 32) - DEFAULT_FIRST_ID;

/// Which host ids the allocator hands out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub first: u64,
    pub count: u64,
    pub ids_per_pod: u32,
}

impl Range {
    /// The kubelet's rule: the `kubelet` user's subordinate range when there is
    /// one (it must be aligned to ids-per-pod), else 65536 up to 2^32; either
    /// must hold maxPods slots.
    pub fn kubelet_rule(
        kubelet_subuids: Option<&[SubIdRange]>,
        ids_per_pod: u32,
        max_pods: u32,
    ) -> Result<Range, AllocatorError> {
        if ids_per_pod == 0 || !ids_per_pod.is_multiple_of(65536) {
            return Err(AllocatorError::IdsPerPod(ids_per_pod));
        }
        let range = match kubelet_subuids.and_then(|r| r.first()) {
            Some(r) => {
                if r.start % ids_per_pod as u64 != 0
                    || r.count % ids_per_pod as u64 != 0
                    || r.count == 0
                {
                    return Err(AllocatorError::Unaligned {
                        start: r.start,
                        count: r.count,
                        ids_per_pod,
                    });
                }
                Range {
                    first: r.start,
                    count: r.count,
                    ids_per_pod,
                }
            }
            None => Range {
                first: DEFAULT_FIRST_ID,
                count: DEFAULT_LEN,
                ids_per_pod,
            },
        };
        if range.slots() < max_pods as u64 {
            return Err(AllocatorError::TooSmall {
                first: range.first,
                count: range.count,
                slots: range.slots(),
                ids_per_pod,
                max_pods,
            });
        }
        Ok(range)
    }

    /// Slots the emulation hands out: all but one that would end at 2^32-1.
    /// The kubelet gives that one too and the runtime then fails
    /// (`fork/exec /proc/self/exe: invalid argument`, kubernetes#139916); a
    /// run should not hit a known kubelet bug at random.
    fn usable_slots(&self) -> u64 {
        let slots = self.slots();
        match self.base(slots.saturating_sub(1)) {
            Some(b) if slots > 1 && b + self.ids_per_pod as u64 >= 1 << 32 => slots - 1,
            _ => slots,
        }
    }

    pub fn slots(&self) -> u64 {
        self.count / self.ids_per_pod as u64
    }

    /// The first host id of `slot`; `None` when it overflows (a subordinate
    /// range near 2^64 read from the node), which `allocate` reports.
    pub fn base(&self, slot: u64) -> Option<u64> {
        slot.checked_mul(self.ids_per_pod as u64)?
            .checked_add(self.first)
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct State {
    /// slot → owner
    slots: BTreeMap<u64, Owner>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Owner {
    pid: u32,
    pod: String,
}

/// A slot handed out; released explicitly once the sandbox is gone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allocation {
    pub slot: u64,
    pub base: u32,
    pub length: u32,
}

pub struct Allocator {
    range: Range,
    path: PathBuf,
}

/// A random number from the standard library's per-process hash keys (no
/// crate needed for one draw per pod; it need not be cryptographic).
fn random() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0),
    );
    h.finish()
}

fn pid_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

impl Allocator {
    pub fn new(state_dir: &Path, range: Range) -> Result<Allocator, AllocatorError> {
        std::fs::create_dir_all(state_dir).map_err(|source| AllocatorError::State {
            path: state_dir.to_path_buf(),
            source,
        })?;
        Ok(Allocator {
            range,
            path: state_dir.join("userns-slots.json"),
        })
    }

    pub fn range(&self) -> Range {
        self.range
    }

    /// Runs `f` on the state with the file locked exclusively.
    fn with_state<T>(
        &self,
        f: impl FnOnce(&mut State) -> Result<T, AllocatorError>,
    ) -> Result<T, AllocatorError> {
        let io = |source| AllocatorError::State {
            path: self.path.clone(),
            source,
        };
        let mut file: File = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&self.path)
            .map_err(io)?;
        file.lock().map_err(io)?;
        let mut text = String::new();
        file.read_to_string(&mut text).map_err(io)?;
        // A damaged state file only loses reservations of live runs; start over.
        let mut state: State = serde_json::from_str(&text).unwrap_or_default();
        let out = f(&mut state)?;
        let json = serde_json::to_string(&state).map_err(|e| io(e.into()))?;
        file.set_len(0)
            .and_then(|_| file.rewind())
            .and_then(|_| file.write_all(json.as_bytes()))
            .map_err(io)?;
        Ok(out)
    }

    pub fn allocate(&self, pod: &str) -> Result<Allocation, AllocatorError> {
        let range = self.range;
        let me = std::process::id();
        self.with_state(|state| {
            state.slots.retain(|_, o| pid_alive(o.pid));
            // A random start, then the first free slot from there on,
            // wrapping around: the kubelet's random scan.
            let n = range.usable_slots();
            let start = random() % n.max(1);
            let slot = (0..n)
                .map(|i| (start + i) % n)
                .find(|s| !state.slots.contains_key(s))
                .ok_or(AllocatorError::Full {
                    slots: range.slots(),
                    ids_per_pod: range.ids_per_pod,
                    first: range.first,
                })?;
            state.slots.insert(
                slot,
                Owner {
                    pid: me,
                    pod: pod.to_string(),
                },
            );
            let base = range
                .base(slot)
                .and_then(|b| u32::try_from(b).ok())
                .ok_or(AllocatorError::AboveU32(slot))?;
            Ok(Allocation {
                slot,
                base,
                length: range.ids_per_pod,
            })
        })
    }

    pub fn release(&self, a: &Allocation) -> Result<(), AllocatorError> {
        self.with_state(|state| {
            state.slots.remove(&a.slot);
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubelet_rule() {
        // No `kubelet` entry: 65536 up to 2^32, as getKubeletMappings says.
        let r = Range::kubelet_rule(None, DEFAULT_IDS_PER_POD, DEFAULT_MAX_PODS).unwrap();
        assert_eq!(
            (r.first, r.first + r.count, r.slots(), r.base(1)),
            (65536, 1 << 32, 65535, Some(131072))
        );
        // The last slot, ending at 2^32-1, is not handed out (kubernetes#139916).
        assert_eq!(r.usable_slots(), 65534);
        assert!(Range::kubelet_rule(
            Some(&[SubIdRange {
                start: 65536,
                count: 65536 * 4
            }]),
            65536,
            110
        )
        .unwrap_err()
        .to_string()
        .contains("fewer than maxPods 110"));
        let sub = [SubIdRange {
            start: 65536 * 10,
            count: 65536 * 4,
        }];
        let r = Range::kubelet_rule(Some(&sub), DEFAULT_IDS_PER_POD, 4).unwrap();
        assert_eq!((r.first, r.slots()), (655360, 4));
        assert!(Range::kubelet_rule(
            Some(&[SubIdRange {
                start: 100000,
                count: 65536
            }]),
            65536,
            110
        )
        .is_err());
        assert!(Range::kubelet_rule(None, 1000, 110).is_err());
    }

    /// Overflow: a subordinate range near 2^64 from the node gives no base
    /// (and `allocate` an error) rather than a wrapped one.
    #[test]
    fn bases_near_2_64() {
        let start = u64::MAX - u64::MAX % 65536;
        let sub = [SubIdRange {
            start: start - 65536,
            count: 65536,
        }];
        let r = Range::kubelet_rule(Some(&sub), DEFAULT_IDS_PER_POD, 1).unwrap();
        assert_eq!(r.base(0), Some(start - 65536));
        assert_eq!(r.base(2), None);
        assert_eq!(r.base(u64::MAX), None);
        let dir = tempfile::tempdir().unwrap();
        let a = Allocator::new(dir.path(), r).unwrap();
        assert!(matches!(a.allocate("p"), Err(AllocatorError::AboveU32(0))));
    }

    /// Slots are spread over the range, not taken from its start: 40 pods in
    /// the default range do not all land in its first 40 slots, and every
    /// base is aligned and inside the range.
    #[test]
    fn slots_are_random_within_the_range() {
        let dir = tempfile::tempdir().unwrap();
        let r = Range::kubelet_rule(None, DEFAULT_IDS_PER_POD, DEFAULT_MAX_PODS).unwrap();
        let a = Allocator::new(dir.path(), r).unwrap();
        let slots: Vec<u64> = (0..40)
            .map(|i| a.allocate(&format!("p{i}")).unwrap().slot)
            .collect();
        assert!(slots.iter().any(|&s| s >= 40), "{slots:?}");
        let unique: std::collections::BTreeSet<_> = slots.iter().collect();
        assert_eq!(unique.len(), 40);
        assert!(slots.iter().all(|&s| s < r.usable_slots()));
    }

    #[test]
    fn two_allocators_on_one_state_never_share_a_slot() {
        let dir = tempfile::tempdir().unwrap();
        let range = Range {
            first: 65536,
            count: 65536 * 8,
            ids_per_pod: 65536,
        };
        let threads: Vec<_> = (0..4)
            .map(|i| {
                let d = dir.path().to_path_buf();
                std::thread::spawn(move || {
                    let a = Allocator::new(&d, range).unwrap();
                    (0..2)
                        .map(|j| a.allocate(&format!("p{i}-{j}")).unwrap().base)
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let mut bases: Vec<u32> = threads
            .into_iter()
            .flat_map(|t| t.join().unwrap())
            .collect();
        bases.sort();
        bases.dedup();
        assert_eq!(bases.len(), 8);
        assert!(bases.iter().all(|b| b % 65536 == 0 && *b >= 65536));
        let a = Allocator::new(dir.path(), range).unwrap();
        assert!(a
            .allocate("one too many")
            .unwrap_err()
            .to_string()
            .contains("no free user-namespace slot"));
        a.release(&Allocation {
            slot: 3,
            base: 0,
            length: 0,
        })
        .unwrap();
        assert_eq!(a.allocate("again").unwrap().slot, 3);
    }
}
