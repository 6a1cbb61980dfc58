//! Which pages to fetch, in which order: pure and deterministic, so a rerun with the same
//! seed and start page asks for the same users.

use userstream_model::request::MAX_PAGE;

/// One page to fetch: `results` users of page `page`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageTask {
    /// 1-based page number.
    pub page: u32,
    /// How many users to ask for (the last page of a `--count` run is trimmed).
    pub results: u32,
}

/// Pages `start_page, start_page + 1, ...` of `results_per_page` users, until `count` users
/// (when given) or the last page the API serves ([`MAX_PAGE`]).
#[derive(Debug, Clone)]
pub struct PagePlan {
    next: u32,
    per_page: u32,
    remaining: Option<u64>,
}

impl PagePlan {
    /// The plan. `results_per_page` must be at least 1 (checked by config validation).
    pub fn new(start_page: u32, results_per_page: u32, count: Option<u64>) -> Self {
        Self {
            next: start_page.max(1),
            per_page: results_per_page.max(1),
            remaining: count,
        }
    }

    /// Number of pages a count of `count` users takes: `ceil(count / results_per_page)`.
    pub fn pages_for(count: u64, results_per_page: u32) -> u64 {
        count.div_ceil(u64::from(results_per_page.max(1)))
    }

    /// The last page a run of `count` users starting at `start_page` touches.
    pub fn last_page(start_page: u32, results_per_page: u32, count: u64) -> u64 {
        u64::from(start_page.max(1)) + Self::pages_for(count, results_per_page).max(1) - 1
    }
}

impl Iterator for PagePlan {
    type Item = PageTask;

    fn next(&mut self) -> Option<PageTask> {
        if self.next > MAX_PAGE || self.remaining == Some(0) {
            return None;
        }
        let results = match self.remaining {
            Some(left) => {
                u32::try_from(left.min(u64::from(self.per_page))).unwrap_or(self.per_page)
            }
            None => self.per_page,
        };
        if let Some(left) = self.remaining.as_mut() {
            *left -= u64::from(results);
        }
        let task = PageTask {
            page: self.next,
            results,
        };
        self.next += 1;
        Some(task)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn count_is_split_into_pages_with_the_last_trimmed() {
        let plan: Vec<PageTask> = PagePlan::new(3, 5000, Some(12_001)).collect();
        assert_eq!(
            plan,
            vec![
                PageTask {
                    page: 3,
                    results: 5000
                },
                PageTask {
                    page: 4,
                    results: 5000
                },
                PageTask {
                    page: 5,
                    results: 2001
                },
            ]
        );
        assert_eq!(PagePlan::pages_for(12_001, 5000), 3);
        assert_eq!(PagePlan::pages_for(10_000, 5000), 2);
        assert_eq!(PagePlan::last_page(3, 5000, 12_001), 5);
        let total: u64 = PagePlan::new(1, 7, Some(1000))
            .map(|t| u64::from(t.results))
            .sum();
        assert_eq!(total, 1000);
    }

    #[test]
    fn zero_count_is_empty_and_unbounded_stops_at_the_api_limit() {
        assert_eq!(PagePlan::new(1, 10, Some(0)).count(), 0);
        let unbounded = PagePlan::new(MAX_PAGE - 1, 10, None);
        assert_eq!(unbounded.count(), 2);
        assert_eq!(
            PagePlan::new(0, 10, Some(5)).next().map(|t| t.page),
            Some(1)
        );
    }
}
