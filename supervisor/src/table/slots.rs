//! A fixed array of optional values with an occupancy bit mask instead of
//! `Option` tags. An empty `Slots` is all zero bits (the mask) and
//! uninitialised storage, so a static one lives in .bss and only the pages
//! of slots actually used ever become resident (the RSS budget).

use core::mem::MaybeUninit;

pub struct Slots<T, const N: usize> {
    /// Bit i set ⇔ `items[i]` is initialised. N ≤ 128.
    used: u128,
    items: [MaybeUninit<T>; N],
}

impl<T, const N: usize> Default for Slots<T, N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T, const N: usize> Slots<T, N> {
    const CAP_OK: () = assert!(N <= 128, "Slots holds at most 128 items");

    pub const fn new() -> Self {
        #[allow(clippy::let_unit_value)]
        let () = Self::CAP_OK;
        Slots {
            used: 0,
            items: [const { MaybeUninit::uninit() }; N],
        }
    }

    fn bit(i: usize) -> u128 {
        if i < N {
            1u128 << i
        } else {
            0
        }
    }

    pub fn is_set(&self, i: usize) -> bool {
        self.used & Self::bit(i) != 0
    }

    pub fn get(&self, i: usize) -> Option<&T> {
        if !self.is_set(i) {
            return None;
        }
        // SAFETY: bit i is set only while items[i] is initialised (set/take keep them in step); is_set(i) implies i < N.
        self.items.get(i).map(|m| unsafe { m.assume_init_ref() })
    }

    pub fn get_mut(&mut self, i: usize) -> Option<&mut T> {
        if !self.is_set(i) {
            return None;
        }
        // SAFETY: as in `get`.
        self.items.get_mut(i).map(|m| unsafe { m.assume_init_mut() })
    }

    /// Puts `v` at `i`, returning the previous value; `Err(v)` if i ≥ N.
    pub fn set(&mut self, i: usize, v: T) -> Result<Option<T>, T> {
        let old = self.take(i);
        match self.items.get_mut(i) {
            Some(m) => {
                m.write(v);
                self.used |= Self::bit(i);
                Ok(old)
            }
            None => Err(v),
        }
    }

    /// Removes and returns the value at `i`.
    pub fn take(&mut self, i: usize) -> Option<T> {
        if !self.is_set(i) {
            return None;
        }
        self.used &= !Self::bit(i);
        // SAFETY: the bit was set, so items[i] is initialised; clearing the bit first means it is read out exactly once.
        self.items.get(i).map(|m| unsafe { m.assume_init_read() })
    }

    /// The lowest free index.
    pub fn free(&self) -> Option<usize> {
        (0..N).find(|&i| !self.is_set(i))
    }

    pub fn iter(&self) -> impl Iterator<Item = (usize, &T)> {
        (0..N).filter_map(move |i| self.get(i).map(|v| (i, v)))
    }

    pub fn mask(&self) -> u128 {
        self.used
    }
}

impl<T, const N: usize> Drop for Slots<T, N> {
    fn drop(&mut self) {
        for i in 0..N {
            drop(self.take(i));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::rc::Rc;

    #[test]
    fn set_get_take_and_drop() {
        let mut s: Slots<Rc<u32>, 4> = Slots::new();
        let v = Rc::new(7);
        assert_eq!(s.free(), Some(0));
        assert!(s.set(2, v.clone()).unwrap().is_none());
        assert_eq!(**s.get(2).unwrap(), 7);
        assert!(s.get(1).is_none() && s.get(9).is_none());
        assert_eq!(Rc::strong_count(&v), 2);
        let old = s.set(2, Rc::new(8)).unwrap().unwrap();
        assert_eq!(*old, 7);
        drop(old);
        assert_eq!(Rc::strong_count(&v), 1);
        s.set(0, v.clone()).unwrap();
        assert_eq!(s.iter().map(|(i, x)| (i, **x)).collect::<Vec<_>>(), [(0, 7), (2, 8)]);
        assert_eq!(s.free(), Some(1));
        assert!(s.set(4, Rc::new(0)).is_err());
        *s.get_mut(2).unwrap() = Rc::new(9);
        assert_eq!(**s.get(2).unwrap(), 9);
        assert_eq!(s.mask(), 0b101);
        drop(s);
        assert_eq!(Rc::strong_count(&v), 1, "dropping the slots drops their values");
    }
}
