// Go's slices.SortFunc (pattern-defeating quicksort, not stable) in C++,
// step for step, so that elements that compare equal end up in the same
// order as in Go. The reader sorts a generation's CPU samples by time the
// way Go's reader does; samples with equal times then come out as in Go.
//
// Small ranges (at most 12) are insertion-sorted, which is stable; larger
// ones with equal keys are where this differs from std::stable_sort.
#ifndef GENTRACE_READER_GO_SORT_H_
#define GENTRACE_READER_GO_SORT_H_

#include <cstddef>
#include <cstdint>
#include <utility>

namespace gentrace::reader {
namespace go_sort_internal {

// The number of bits needed to represent n (Go's bits.Len).
inline int BitLen(uint64_t n) {
  int len = 0;
  while (n != 0) {
    ++len;
    n >>= 1;
  }
  return len;
}

enum Hint { kUnknown, kIncreasing, kDecreasing };

template <typename T, typename Less>
class Sorter {
 public:
  Sorter(T* data, Less less) : d_(data), less_(less) {}

  void Pdq(long a, long b, int limit) {
    constexpr long kMaxInsertion = 12;
    bool balanced = true, partitioned = true;
    for (;;) {
      const long length = b - a;
      if (length <= kMaxInsertion) {
        Insertion(a, b);
        return;
      }
      if (limit == 0) {
        Heap(a, b);
        return;
      }
      if (!balanced) {
        BreakPatterns(a, b);
        --limit;
      }
      Hint hint;
      long pivot = ChoosePivot(a, b, &hint);
      if (hint == kDecreasing) {
        Reverse(a, b);
        pivot = (b - 1) - (pivot - a);
        hint = kIncreasing;
      }
      // Probably sorted already: try to finish with a few shifts.
      if (balanced && partitioned && hint == kIncreasing &&
          PartialInsertion(a, b)) {
        return;
      }
      // The element before the range is a lower bound: if the pivot equals
      // it, everything equal to the pivot goes first and is done.
      if (a > 0 && !less_(d_[a - 1], d_[pivot])) {
        a = PartitionEqual(a, b, pivot);
        continue;
      }
      bool already = false;
      const long mid = Partition(a, b, pivot, &already);
      partitioned = already;
      const long left = mid - a, right = b - mid;
      const long threshold = length / 8;
      if (left < right) {
        balanced = left >= threshold;
        Pdq(a, mid, limit);
        a = mid + 1;
      } else {
        balanced = right >= threshold;
        Pdq(mid + 1, b, limit);
        b = mid;
      }
    }
  }

 private:
  void Swap(long i, long j) { std::swap(d_[i], d_[j]); }

  void Insertion(long a, long b) {
    for (long i = a + 1; i < b; ++i) {
      for (long j = i; j > a && less_(d_[j], d_[j - 1]); --j) Swap(j, j - 1);
    }
  }

  void SiftDown(long lo, long hi, long first) {
    long root = lo;
    for (;;) {
      long child = 2 * root + 1;
      if (child >= hi) return;
      if (child + 1 < hi && less_(d_[first + child], d_[first + child + 1])) {
        ++child;
      }
      if (!less_(d_[first + root], d_[first + child])) return;
      Swap(first + root, first + child);
      root = child;
    }
  }

  void Heap(long a, long b) {
    const long first = a, hi = b - a;
    for (long i = (hi - 1) / 2; i >= 0; --i) SiftDown(i, hi, first);
    for (long i = hi - 1; i >= 0; --i) {
      Swap(first, first + i);
      SiftDown(0, i, first);
    }
  }

  // Moves elements less than the pivot before it; returns the pivot's new
  // place and whether nothing had to move.
  long Partition(long a, long b, long pivot, bool* already) {
    Swap(a, pivot);
    long i = a + 1, j = b - 1;
    while (i <= j && less_(d_[i], d_[a])) ++i;
    while (i <= j && !less_(d_[j], d_[a])) --j;
    if (i > j) {
      Swap(j, a);
      *already = true;
      return j;
    }
    Swap(i, j);
    ++i;
    --j;
    for (;;) {
      while (i <= j && less_(d_[i], d_[a])) ++i;
      while (i <= j && !less_(d_[j], d_[a])) --j;
      if (i > j) break;
      Swap(i, j);
      ++i;
      --j;
    }
    Swap(j, a);
    *already = false;
    return j;
  }

  // Gathers the elements equal to the pivot at the front; returns the end
  // of that run.
  long PartitionEqual(long a, long b, long pivot) {
    Swap(a, pivot);
    long i = a + 1, j = b - 1;
    for (;;) {
      while (i <= j && !less_(d_[a], d_[i])) ++i;
      while (i <= j && less_(d_[a], d_[j])) --j;
      if (i > j) break;
      Swap(i, j);
      ++i;
      --j;
    }
    return i;
  }

  // Fixes up to five out-of-order neighbours; true if that sorted the range.
  bool PartialInsertion(long a, long b) {
    constexpr int kMaxSteps = 5;
    constexpr long kShortestShifting = 50;
    long i = a + 1;
    for (int step = 0; step < kMaxSteps; ++step) {
      while (i < b && !less_(d_[i], d_[i - 1])) ++i;
      if (i == b) return true;
      if (b - a < kShortestShifting) return false;
      Swap(i, i - 1);
      if (i - a >= 2) {
        for (long j = i - 1; j >= 1; --j) {
          if (!less_(d_[j], d_[j - 1])) break;
          Swap(j, j - 1);
        }
      }
      if (b - i >= 2) {
        for (long j = i + 1; j < b; ++j) {
          if (!less_(d_[j], d_[j - 1])) break;
          Swap(j, j - 1);
        }
      }
    }
    return false;
  }

  // Scatters three middle elements with Go's fixed xorshift sequence.
  void BreakPatterns(long a, long b) {
    const long length = b - a;
    if (length < 8) return;
    uint64_t random = static_cast<uint64_t>(length);
    const uint64_t modulus = uint64_t{1}
                             << BitLen(static_cast<uint64_t>(length));
    for (long idx = a + (length / 4) * 2 - 1; idx <= a + (length / 4) * 2 + 1;
         ++idx) {
      random ^= random << 13;
      random ^= random >> 17;
      random ^= random << 5;
      long other = static_cast<long>(random & (modulus - 1));
      if (other >= length) other -= length;
      Swap(idx, a + other);
    }
  }

  void Order2(long* x, long* y, int* swaps) {
    if (less_(d_[*y], d_[*x])) {
      ++*swaps;
      std::swap(*x, *y);
    }
  }
  long Median(long x, long y, long z, int* swaps) {
    Order2(&x, &y, swaps);
    Order2(&y, &z, swaps);
    Order2(&x, &y, swaps);
    return y;
  }

  long ChoosePivot(long a, long b, Hint* hint) {
    constexpr long kShortestNinther = 50;
    constexpr int kMaxSwaps = 4 * 3;
    const long l = b - a;
    int swaps = 0;
    long i = a + l / 4 * 1, j = a + l / 4 * 2, k = a + l / 4 * 3;
    if (l >= 8) {
      if (l >= kShortestNinther) {
        i = Median(i - 1, i, i + 1, &swaps);
        j = Median(j - 1, j, j + 1, &swaps);
        k = Median(k - 1, k, k + 1, &swaps);
      }
      j = Median(i, j, k, &swaps);
    }
    *hint = swaps == 0           ? kIncreasing
            : swaps == kMaxSwaps ? kDecreasing
                                 : kUnknown;
    return j;
  }

  void Reverse(long a, long b) {
    for (long i = a, j = b - 1; i < j; ++i, --j) Swap(i, j);
  }

  T* d_;
  Less less_;
};

}  // namespace go_sort_internal

// Sorts data[0, n) by `less` exactly as Go's slices.SortFunc sorts with a
// cmp where cmp(x, y) < 0 iff less(x, y).
template <typename T, typename Less>
void GoSortFunc(T* data, size_t n, Less less) {
  go_sort_internal::Sorter<T, Less> s(data, less);
  s.Pdq(0, static_cast<long>(n),
        go_sort_internal::BitLen(static_cast<uint64_t>(n)));
}

}  // namespace gentrace::reader

#endif  // GENTRACE_READER_GO_SORT_H_
