// The one translation unit that compiles Boost.JSON (header-only mode, see Boost.JSON docs).
#include <boost/json/src.hpp>
