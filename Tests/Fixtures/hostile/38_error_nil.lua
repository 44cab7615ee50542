-- expect: error: nil
-- Odd error value: nil.
error(nil)
