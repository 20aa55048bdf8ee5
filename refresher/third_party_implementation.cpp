// The compiled parts of fmt and toml++, built once here and linked into the refresher
// (lazy/lazy_library.h: its start loads nothing but libc). Both libraries ship them as
// headers; included in every file that formats or reads the config, they would cost each
// such file 20 s of compile time. fmt: what its src/format.cc does (fmt 9.1, Debian 12);
// toml++: its documented single-implementation-file mode (TOML_HEADER_ONLY=0 everywhere,
// TOML_IMPLEMENTATION here).
#include <fmt/format-inl.h>

#define TOML_IMPLEMENTATION
#include <toml++/toml.h>

FMT_BEGIN_NAMESPACE
namespace detail {

template FMT_API auto dragonbox::to_decimal(float x) noexcept -> dragonbox::decimal_fp<float>;
template FMT_API auto dragonbox::to_decimal(double x) noexcept -> dragonbox::decimal_fp<double>;

#ifndef FMT_STATIC_THOUSANDS_SEPARATOR
template FMT_API locale_ref::locale_ref(const std::locale& loc);
template FMT_API auto locale_ref::get<std::locale>() const -> std::locale;
#endif

template FMT_API auto thousands_sep_impl(locale_ref) -> thousands_sep_result<char>;
template FMT_API auto decimal_point_impl(locale_ref) -> char;
template FMT_API void buffer<char>::append(const char*, const char*);
template FMT_API void vformat_to(buffer<char>&, string_view,
                                 basic_format_args<FMT_BUFFER_CONTEXT(char)>, locale_ref);

template FMT_API auto thousands_sep_impl(locale_ref) -> thousands_sep_result<wchar_t>;
template FMT_API auto decimal_point_impl(locale_ref) -> wchar_t;
template FMT_API void buffer<wchar_t>::append(const wchar_t*, const wchar_t*);

}  // namespace detail
FMT_END_NAMESPACE
