/* SPDX-License-Identifier: GPL-3.0-or-later */
/* pybind11 bindings of the gr-lgvsc C++ blocks (module gnuradio.lgvsc.lgvsc_python). */
#include <pybind11/complex.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <gnuradio/lgvsc/ldpc_5g.h>
#include <gnuradio/lgvsc/ofdm_burst_demod.h>
#include <gnuradio/lgvsc/ofdm_burst_mod.h>
#include <gnuradio/lgvsc/pdu_admit.h>
#include <gnuradio/lgvsc/pdu_rx_check.h>
#include <gnuradio/lgvsc/psk_burst_demod.h>
#include <gnuradio/lgvsc/psk_burst_mod.h>

namespace py = pybind11;
using namespace gr::lgvsc;

PYBIND11_MODULE(lgvsc_python, m)
{
    py::module::import("gnuradio.gr");  // registers gr::block & co. as Python base classes

    py::class_<ofdm_phy_config>(m, "ofdm_phy_config")
        .def(py::init<>())
        .def_readwrite("fft_len", &ofdm_phy_config::fft_len)
        .def_readwrite("cp_len", &ofdm_phy_config::cp_len)
        .def_readwrite("occupied", &ofdm_phy_config::occupied)
        .def_readwrite("pilots", &ofdm_phy_config::pilots)
        .def_readwrite("pilot_symbols", &ofdm_phy_config::pilot_symbols)
        .def_readwrite("constellations", &ofdm_phy_config::constellations)
        .def_readwrite("mcs_names", &ofdm_phy_config::mcs_names)
        .def_readwrite("mcs_code", &ofdm_phy_config::mcs_code)
        .def_readwrite("mcs_mod", &ofdm_phy_config::mcs_mod)
        .def_readwrite("mcs_n", &ofdm_phy_config::mcs_n)
        .def_readwrite("mcs_k", &ofdm_phy_config::mcs_k)
        .def_readwrite("mcs_frozen", &ofdm_phy_config::mcs_frozen)
        .def_readwrite("polar_list", &ofdm_phy_config::polar_list)
        .def_readwrite("header_mod", &ofdm_phy_config::header_mod)
        .def_readwrite("max_bytes", &ofdm_phy_config::max_bytes);

    py::class_<ofdm_burst_mod, gr::block, gr::basic_block, std::shared_ptr<ofdm_burst_mod>>(m, "ofdm_burst_mod")
        .def(py::init(&ofdm_burst_mod::make), py::arg("cfg"), py::arg("default_mcs"), py::arg("payload_mod"),
             py::arg("gap"), py::arg("len_tag_key") = "packet_len")
        .def("burst_len", &ofdm_burst_mod::burst_len, py::arg("nbytes"), py::arg("mcs"))
        .def("mod_of", &ofdm_burst_mod::mod_of, py::arg("mcs"))
        .def("bursts", &ofdm_burst_mod::bursts)
        .def("dropped", &ofdm_burst_mod::dropped);

    py::class_<ofdm_burst_demod, gr::sync_block, gr::block, gr::basic_block, std::shared_ptr<ofdm_burst_demod>>(
        m, "ofdm_burst_demod")
        .def(py::init(&ofdm_burst_demod::make), py::arg("cfg"), py::arg("payload_mod"), py::arg("max_int_cfo"),
             py::arg("threshold"))
        .def("detections", &ofdm_burst_demod::detections)
        .def("header_failures", &ofdm_burst_demod::header_failures)
        .def("last_snr_db", &ofdm_burst_demod::last_snr_db);

    // 5G NR LDPC codec (tests, Sionna cross-check, the ML side's rate accounting)
    py::class_<ldpc_5g>(m, "ldpc_5g")
        .def(py::init<int, float, float>(), py::arg("max_iter") = 40, py::arg("alpha") = 0.8f,
             py::arg("beta") = 0.3f)
        .def_static("select_bg", &ldpc_5g::select_bg, py::arg("k"), py::arg("r"))
        .def_static("lifting", [](int k, int bg) { int z, ils; ldpc_5g::select_lifting(k, bg, z, ils);
                                                   return std::make_pair(z, ils); }, py::arg("k"), py::arg("bg"))
        .def_static("plan", [](long nbits, int num, int den) {
                        std::vector<std::tuple<int, int, int>> out;
                        for (auto& s : ldpc_5g::plan(nbits, num, den))
                            out.emplace_back(s.k, s.e, s.bg);
                        return out; }, py::arg("nbits"), py::arg("num"), py::arg("den"))
        .def_static("coded_bits", &ldpc_5g::coded_bits, py::arg("nbits"), py::arg("num"), py::arg("den"))
        .def("encode", &ldpc_5g::encode_v, py::arg("info"), py::arg("e"), py::arg("bg") = 0,
             py::call_guard<py::gil_scoped_release>())
        .def("decode", &ldpc_5g::decode_v, py::arg("llr"), py::arg("k"), py::arg("bg") = 0,
             py::call_guard<py::gil_scoped_release>())
        .def("encode_pdu", [](ldpc_5g& c, const std::vector<uint8_t>& bits, int num, int den) {
                 std::vector<uint8_t> out(ldpc_5g::coded_bits((long)bits.size(), num, den));
                 c.encode_pdu(bits.data(), (long)bits.size(), num, den, out.data());
                 return out; }, py::arg("bits"), py::arg("num"), py::arg("den"))
        .def("decode_pdu", [](ldpc_5g& c, py::array_t<float, py::array::c_style | py::array::forcecast> llr,
                              long nbits, int num, int den) {
                 if (llr.ndim() != 1 || (long)llr.size() != ldpc_5g::coded_bits(nbits, num, den))
                     throw std::invalid_argument("decode_pdu: llr length != coded_bits(nbits, num, den)");
                 std::vector<uint8_t> out(nbits);
                 int failed;
                 {
                     py::gil_scoped_release nogil;
                     failed = c.decode_pdu(llr.data(), nbits, num, den, out.data());
                 }
                 return std::make_pair(out, failed); }, py::arg("llr"), py::arg("nbits"), py::arg("num"),
             py::arg("den"))
        .def("last_iterations", &ldpc_5g::last_iterations);

    py::class_<pdu_admit, gr::block, gr::basic_block, std::shared_ptr<pdu_admit>>(m, "pdu_admit")
        .def(py::init(&pdu_admit::make), py::arg("mtu"), py::arg("label"), py::arg("seq_bytes"),
             py::arg("keep_mcs"), py::arg("mcs_names"), py::arg("append_crc"), py::arg("status_interval") = 0.02)
        .def("counters", &pdu_admit::counters);

    py::class_<pdu_rx_check, gr::block, gr::basic_block, std::shared_ptr<pdu_rx_check>>(m, "pdu_rx_check")
        .def(py::init(&pdu_rx_check::make), py::arg("phy"), py::arg("fec"), py::arg("fft_len"), py::arg("mtu"),
             py::arg("seq_bytes"), py::arg("status_interval") = 0.02)
        .def("set_demod", &pdu_rx_check::set_demod, py::arg("demod"))
        .def("counters", &pdu_rx_check::counters)
        .def("last_snr_db", &pdu_rx_check::last_snr_db);

    py::class_<psk_burst_mod, gr::block, gr::basic_block, std::shared_ptr<psk_burst_mod>>(m, "psk_burst_mod")
        .def(py::init(&psk_burst_mod::make), py::arg("cfg"), py::arg("default_mcs"), py::arg("payload_mod"),
             py::arg("gap_symbols"))
        .def("burst_len", &psk_burst_mod::burst_len, py::arg("nbytes"), py::arg("mcs"))
        .def("mod_of", &psk_burst_mod::mod_of, py::arg("mcs"));

    py::class_<psk_burst_demod, gr::sync_block, gr::block, gr::basic_block, std::shared_ptr<psk_burst_demod>>(
        m, "psk_burst_demod")
        .def(py::init(&psk_burst_demod::make), py::arg("cfg"), py::arg("payload_mod"), py::arg("threshold"),
             py::arg("sps") = 2)
        .def("detections", &psk_burst_demod::detections)
        .def("header_failures", &psk_burst_demod::header_failures)
        .def("last_snr_db", &psk_burst_demod::last_snr_db);
}
